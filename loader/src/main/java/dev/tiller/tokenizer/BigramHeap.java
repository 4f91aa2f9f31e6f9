package dev.tiller.tokenizer;

import java.util.Arrays;

/**
 * Binary min-heap of candidate merges keyed by a long priority (smaller pops first), with the left/right symbol
 * indices and an extra int (merge size or rank) stored alongside in parallel arrays — no per-candidate objects.
 */
final class BigramHeap {
    private long[] keys = new long[64];
    private int[] lefts = new int[64];
    private int[] rights = new int[64];
    private int[] extras = new int[64];
    private int size;

    // popped entry
    int left;
    int right;
    int extra;

    void clear() {
        size = 0;
    }

    boolean isEmpty() {
        return size == 0;
    }

    void push(long key, int l, int r, int x) {
        if (size == keys.length) {
            int n = size * 2;
            keys = Arrays.copyOf(keys, n);
            lefts = Arrays.copyOf(lefts, n);
            rights = Arrays.copyOf(rights, n);
            extras = Arrays.copyOf(extras, n);
        }
        int i = size++;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (keys[parent] <= key) break;
            move(parent, i);
            i = parent;
        }
        set(i, key, l, r, x);
    }

    /** Removes the smallest entry into {@link #left}, {@link #right}, {@link #extra}. */
    void pop() {
        left = lefts[0];
        right = rights[0];
        extra = extras[0];
        int last = --size;
        if (last == 0) return;
        long key = keys[last];
        int l = lefts[last], r = rights[last], x = extras[last];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= last) break;
            if (child + 1 < last && keys[child + 1] < keys[child]) child++;
            if (keys[child] >= key) break;
            move(child, i);
            i = child;
        }
        set(i, key, l, r, x);
    }

    private void move(int from, int to) {
        keys[to] = keys[from];
        lefts[to] = lefts[from];
        rights[to] = rights[from];
        extras[to] = extras[from];
    }

    private void set(int i, long key, int l, int r, int x) {
        keys[i] = key;
        lefts[i] = l;
        rights[i] = r;
        extras[i] = x;
    }
}
