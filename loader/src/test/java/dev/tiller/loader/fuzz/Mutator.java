package dev.tiller.loader.fuzz;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Byte-level mutations for the seeded fuzzer, biased toward what breaks parsers: boundary integers written over
 * length and count fields (little-endian, any offset), truncation, chunk deletion and duplication, splicing with
 * another seed, and, for text formats, numbers replaced by boundary values and stray JSON punctuation.
 */
public final class Mutator {
    private static final long[] INTERESTING = {
            0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 64, 255, 256, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF,
            Integer.MAX_VALUE, Integer.MIN_VALUE, 0xFFFFFFFFL, 1L << 32, 1L << 40, 1L << 62,
            Long.MAX_VALUE, Long.MIN_VALUE, -1, -2};
    private static final String[] NUMBERS = {
            "-1", "0", "1", "2", "7", "255", "65536", "2147483647", "2147483648", "-2147483649", "4294967296",
            "9223372036854775807", "9223372036854775808", "99999999999999999999999999", "1e308", "1e999", "-0",
            "1.5", "NaN", "\"3\"", "null", "[]", "{}", "100000000"};
    private static final String[] JSON_BITS = {"\"", "{", "}", "[", "]", ",", ":", "null", "true", "\"\"", "\\", "\\u0000",
            "\\ud800", "<|im_end|>", "\u2581", " ", "\n", "[[[[[[[[[[[[[[[[[[[[[[[[", "{\"a\":{\"a\":{\"a\":{\"a\":"};

    private final Random rnd;
    private final List<byte[]> pool;

    public Mutator(long seed, List<byte[]> pool) {
        this.rnd = new Random(seed);
        this.pool = pool;
    }

    public Random random() {
        return rnd;
    }

    /** One to four stacked mutations of {@code in} (never modified). */
    public byte[] mutate(byte[] in, boolean text) {
        byte[] b = in.clone();
        int n = 1 + rnd.nextInt(4);
        for (int i = 0; i < n; i++) b = once(b, text);
        return b;
    }

    private byte[] once(byte[] b, boolean text) {
        int op = rnd.nextInt(text ? 11 : 8);
        if (b.length == 0 && op < 7) op = 6;
        switch (op) {
            case 0 -> b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
            case 1 -> b[rnd.nextInt(b.length)] = (byte) INTERESTING[rnd.nextInt(INTERESTING.length)];
            case 2, 3 -> { // a boundary integer over 4 or 8 bytes at any offset (lengths, counts, offsets, dims)
                int w = op == 2 ? 4 : 8;
                if (b.length >= w) {
                    int at = rnd.nextInt(b.length - w + 1);
                    long v = INTERESTING[rnd.nextInt(INTERESTING.length)];
                    if (rnd.nextInt(4) == 0) v += rnd.nextInt(9) - 4;
                    for (int k = 0; k < w; k++) b[at + k] = (byte) (v >>> (8 * k));
                }
            }
            case 4 -> b = Arrays.copyOf(b, rnd.nextInt(b.length)); // truncate
            case 5 -> { // delete a chunk
                int from = rnd.nextInt(b.length), len = 1 + rnd.nextInt(Math.min(64, b.length - from));
                byte[] r = new byte[b.length - len];
                System.arraycopy(b, 0, r, 0, from);
                System.arraycopy(b, from + len, r, from, b.length - from - len);
                b = r;
            }
            case 6 -> { // insert a chunk of this input or of another seed (splice)
                byte[] src = rnd.nextBoolean() || pool.isEmpty() ? b : pool.get(rnd.nextInt(pool.size()));
                if (src.length == 0) break;
                int from = rnd.nextInt(src.length), len = 1 + rnd.nextInt(Math.min(256, src.length - from));
                b = insert(b, rnd.nextInt(b.length + 1), Arrays.copyOfRange(src, from, from + len));
            }
            case 7 -> { // overwrite a chunk with one from elsewhere
                if (b.length < 2) break;
                int len = 1 + rnd.nextInt(Math.min(32, b.length - 1));
                int from = rnd.nextInt(b.length - len + 1), to = rnd.nextInt(b.length - len + 1);
                System.arraycopy(b.clone(), from, b, to, len);
            }
            case 8, 9 -> b = replaceNumber(b);
            default -> b = insert(b, rnd.nextInt(b.length + 1), JSON_BITS[rnd.nextInt(JSON_BITS.length)].getBytes(StandardCharsets.UTF_8));
        }
        return b;
    }

    /** Replaces one run of ASCII digits (with its sign) by a boundary value. */
    private byte[] replaceNumber(byte[] b) {
        if (b.length == 0) return b;
        int start = rnd.nextInt(b.length);
        int i = start;
        while (i < b.length && !isDigit(b[i])) i++;
        if (i == b.length) return b;
        int from = i > 0 && b[i - 1] == '-' ? i - 1 : i;
        int to = i;
        while (to < b.length && isDigit(b[to])) to++;
        byte[] num = NUMBERS[rnd.nextInt(NUMBERS.length)].getBytes(StandardCharsets.US_ASCII);
        byte[] r = new byte[b.length - (to - from) + num.length];
        System.arraycopy(b, 0, r, 0, from);
        System.arraycopy(num, 0, r, from, num.length);
        System.arraycopy(b, to, r, from + num.length, b.length - to);
        return r;
    }

    private static boolean isDigit(byte c) {
        return c >= '0' && c <= '9';
    }

    private static byte[] insert(byte[] b, int at, byte[] piece) {
        byte[] r = new byte[b.length + piece.length];
        System.arraycopy(b, 0, r, 0, at);
        System.arraycopy(piece, 0, r, at, piece.length);
        System.arraycopy(b, at, r, at + piece.length, b.length - at);
        return r;
    }
}
