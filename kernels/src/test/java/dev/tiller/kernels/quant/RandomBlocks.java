package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

import java.util.Random;

/**
 * Random but valid ggml data: every quant bit random, the f16 scale fields set to finite values of moderate size
 * (random bits there would give NaN/inf or absurd magnitudes, which tell nothing about the layout).
 */
final class RandomBlocks {

    static byte[] of(GGMLType type, int n, Random rnd) {
        byte[] b = new byte[Math.toIntExact(type.byteSize(n))];
        rnd.nextBytes(b);
        for (int blk = 0; blk < n / type.blockSize; blk++) {
            int o = blk * type.typeSize;
            switch (type) {
                case F32 -> putF32(b, o, (float) rnd.nextGaussian());
                case F16 -> putF16(b, o, randomScale(rnd) * 4);
                case BF16 -> putU16(b, o, Quantizer.toBF16((float) rnd.nextGaussian() * 3));
                case Q8_0, Q4_0, Q5_0 -> putF16(b, o, randomScale(rnd));
                case Q4_1, Q5_1, Q4_K, Q5_K -> {
                    putF16(b, o, randomScale(rnd));
                    putF16(b, o + 2, randomScale(rnd));
                }
                case Q6_K -> putF16(b, o + 208, randomScale(rnd));
                default -> throw new IllegalArgumentException(type.toString());
            }
        }
        return b;
    }

    /** A signed value with magnitude between 2^-10 and 2^2, including f16 values with low mantissa bits set. */
    static float randomScale(Random rnd) {
        float mag = (float) Math.pow(2, -10 + 12 * rnd.nextDouble());
        return rnd.nextBoolean() ? mag : -mag;
    }

    static float[] gaussian(int n, Random rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    static void putF16(byte[] b, int o, float v) {
        putU16(b, o, Float.floatToFloat16(v));
    }

    static void putU16(byte[] b, int o, short v) {
        b[o] = (byte) v;
        b[o + 1] = (byte) (v >> 8);
    }

    static void putF32(byte[] b, int o, float v) {
        int bits = Float.floatToRawIntBits(v);
        for (int k = 0; k < 4; k++) b[o + k] = (byte) (bits >> (8 * k));
    }

    private RandomBlocks() {}
}
