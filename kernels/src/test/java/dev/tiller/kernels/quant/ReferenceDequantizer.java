package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

/**
 * An independent float64 decoder of ggml blocks, written straight from ggml-quants.c's dequantize_row_* with plain
 * byte arithmetic (no code shared with the kernels, no Float.float16ToFloat). For every element it also gives
 * the magnitude of the terms that make it up ({@code |d*scale*q| + |min|}), which bounds the rounding error of a
 * float computation of the element and of dot products over it.
 */
final class ReferenceDequantizer {
    final double[] values;
    final double[] magnitudes;

    private ReferenceDequantizer(int n) {
        values = new double[n];
        magnitudes = new double[n];
    }

    /** Decodes {@code n} elements of {@code type} starting at byte {@code off} of {@code b}. */
    static ReferenceDequantizer decode(GGMLType type, byte[] b, int off, int n) {
        ReferenceDequantizer r = new ReferenceDequantizer(n);
        int blocks = n / type.blockSize;
        for (int blk = 0; blk < blocks; blk++) {
            int o = off + blk * type.typeSize;
            int y = blk * type.blockSize;
            switch (type) {
                case F32 -> r.set(y, Float.intBitsToFloat(u32(b, o)), 0);
                case F16 -> r.set(y, half(u16(b, o)), 0);
                case BF16 -> r.set(y, bf16(u16(b, o)), 0);
                case Q8_0 -> {
                    double d = half(u16(b, o));
                    for (int j = 0; j < 32; j++) r.set(y + j, d * b[o + 2 + j], 0);
                }
                case Q4_0 -> {
                    double d = half(u16(b, o));
                    for (int j = 0; j < 16; j++) {
                        r.set(y + j, d * ((u8(b, o + 2 + j) & 15) - 8), 0);
                        r.set(y + j + 16, d * ((u8(b, o + 2 + j) >> 4) - 8), 0);
                    }
                }
                case Q4_1 -> {
                    double d = half(u16(b, o)), m = half(u16(b, o + 2));
                    for (int j = 0; j < 16; j++) {
                        r.set(y + j, d * (u8(b, o + 4 + j) & 15), m);
                        r.set(y + j + 16, d * (u8(b, o + 4 + j) >> 4), m);
                    }
                }
                case Q5_0 -> {
                    double d = half(u16(b, o));
                    long qh = u32(b, o + 2) & 0xFFFFFFFFL;
                    for (int j = 0; j < 16; j++) {
                        int lo = (u8(b, o + 6 + j) & 15) + 16 * (int) ((qh >> j) & 1);
                        int hi = (u8(b, o + 6 + j) >> 4) + 16 * (int) ((qh >> (j + 16)) & 1);
                        r.set(y + j, d * (lo - 16), 0);
                        r.set(y + j + 16, d * (hi - 16), 0);
                    }
                }
                case Q5_1 -> {
                    double d = half(u16(b, o)), m = half(u16(b, o + 2));
                    long qh = u32(b, o + 4) & 0xFFFFFFFFL;
                    for (int j = 0; j < 16; j++) {
                        int lo = (u8(b, o + 8 + j) & 15) + 16 * (int) ((qh >> j) & 1);
                        int hi = (u8(b, o + 8 + j) >> 4) + 16 * (int) ((qh >> (j + 16)) & 1);
                        r.set(y + j, d * lo, m);
                        r.set(y + j + 16, d * hi, m);
                    }
                }
                case Q4_K, Q5_K -> {
                    boolean five = type == GGMLType.Q5_K;
                    double d = half(u16(b, o)), dmin = half(u16(b, o + 2));
                    int scales = o + 4, qh = o + 16, qs = five ? o + 48 : o + 16;
                    for (int sub = 0; sub < 8; sub++) {
                        int[] sm = scaleMin(b, scales, sub);
                        double ds = d * sm[0], mm = dmin * sm[1];
                        int group = sub / 2;
                        boolean high = (sub & 1) == 1;
                        for (int l = 0; l < 32; l++) {
                            int byteVal = u8(b, qs + 32 * group + l);
                            int q = high ? byteVal >> 4 : byteVal & 15;
                            if (five && ((u8(b, qh + l) >> sub) & 1) == 1) q += 16;
                            r.set(y + 32 * sub + l, ds * q, -mm);
                        }
                    }
                }
                case Q6_K -> {
                    double d = half(u16(b, o + 208));
                    for (int i = 0; i < 256; i++) {
                        int half = i / 128, within = i % 128, quarter = within / 32, l = within % 32;
                        int qlByte = u8(b, o + 64 * half + l + (quarter % 2 == 1 ? 32 : 0));
                        int low4 = quarter < 2 ? qlByte & 15 : qlByte >> 4;
                        int high2 = (u8(b, o + 128 + 32 * half + l) >> (2 * quarter)) & 3;
                        int scale = b[o + 192 + 8 * half + 2 * quarter + l / 16];
                        r.set(y + i, d * scale * ((low4 | (high2 << 4)) - 32), 0);
                    }
                }
                default -> throw new IllegalArgumentException("no reference for " + type);
            }
        }
        return r;
    }

    private void set(int i, double scaled, double min) {
        values[i] = scaled + min;
        magnitudes[i] = Math.abs(scaled) + Math.abs(min);
    }

    /** get_scale_min_k4, written from its description: 6-bit scale and min of sub-block j. */
    private static int[] scaleMin(byte[] b, int s, int j) {
        if (j < 4) return new int[] {u8(b, s + j) & 63, u8(b, s + j + 4) & 63};
        int scale = (u8(b, s + j + 4) & 15) | ((u8(b, s + j - 4) >> 6) << 4);
        int min = (u8(b, s + j + 4) >> 4) | ((u8(b, s + j) >> 6) << 4);
        return new int[] {scale, min};
    }

    /** IEEE binary16 by its definition. */
    static double half(int h) {
        int sign = (h >> 15) & 1, exp = (h >> 10) & 31, mant = h & 1023;
        double v;
        if (exp == 0) v = mant * Math.pow(2, -24);
        else if (exp == 31) v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        else v = (1 + mant / 1024.0) * Math.pow(2, exp - 15);
        return sign == 1 ? -v : v;
    }

    /** bfloat16 by its definition: 8 exponent bits (bias 127), 7 mantissa bits. */
    static double bf16(int h) {
        int sign = (h >> 15) & 1, exp = (h >> 7) & 255, mant = h & 127;
        double v;
        if (exp == 0) v = mant * Math.pow(2, -133);
        else if (exp == 255) v = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        else v = (1 + mant / 128.0) * Math.pow(2, exp - 127);
        return sign == 1 ? -v : v;
    }

    static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    static int u16(byte[] b, int i) {
        return u8(b, i) | (u8(b, i + 1) << 8);
    }

    static int u32(byte[] b, int i) {
        return u16(b, i) | (u16(b, i + 2) << 16);
    }
}
