package dev.tiller.tokenizer;

/**
 * Exact string to id map (open addressing) that can also be probed with a range of a char array, so the merge loops
 * look candidate pieces up without allocating substrings.
 */
final class TokenLookup {
    private String[] keys;
    private int[] values;
    private int mask;
    private int size;

    TokenLookup(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new String[cap];
        values = new int[cap];
        mask = cap - 1;
    }

    int size() {
        return size;
    }

    /** Inserts key → value unless the key is present; returns the existing value or -1 if newly inserted. */
    int putIfAbsent(String key, int value) {
        if (size * 2 >= keys.length) grow();
        int slot = hash(key) & mask;
        while (keys[slot] != null) {
            if (keys[slot].equals(key)) return values[slot];
            slot = (slot + 1) & mask;
        }
        keys[slot] = key;
        values[slot] = value;
        size++;
        return -1;
    }

    int get(String key) {
        int slot = hash(key) & mask;
        String k;
        while ((k = keys[slot]) != null) {
            if (k.equals(key)) return values[slot];
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    /** The id of the string {@code buf[from, to)}, or -1. */
    int get(char[] buf, int from, int to) {
        int slot = hash(buf, from, to) & mask;
        String k;
        int len = to - from;
        while ((k = keys[slot]) != null) {
            if (k.length() == len && sameChars(k, buf, from)) return values[slot];
            slot = (slot + 1) & mask;
        }
        return -1;
    }

    private static boolean sameChars(String k, char[] buf, int from) {
        for (int i = 0, n = k.length(); i < n; i++) {
            if (k.charAt(i) != buf[from + i]) return false;
        }
        return true;
    }

    private void grow() {
        String[] oldKeys = keys;
        int[] oldValues = values;
        keys = new String[oldKeys.length * 2];
        values = new int[oldKeys.length * 2];
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldKeys[i] != null) putIfAbsent(oldKeys[i], oldValues[i]);
        }
    }

    // String.hashCode's polynomial, recomputed over a char range so both lookups agree; then mixed.
    private static int hash(String s) {
        return mix(s.hashCode());
    }

    private static int hash(char[] buf, int from, int to) {
        int h = 0;
        for (int i = from; i < to; i++) h = 31 * h + buf[i];
        return mix(h);
    }

    private static int mix(int h) {
        h *= 0x9E3779B9;
        return h ^ (h >>> 16);
    }
}
