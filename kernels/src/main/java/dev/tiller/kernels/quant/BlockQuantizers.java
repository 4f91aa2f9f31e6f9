package dev.tiller.kernels.quant;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Quantizer.putByte;
import static dev.tiller.kernels.quant.Quantizer.putHalf;

/** ggml's reference quantizers for the 32-element block types; each writes one block. */
final class BlockQuantizers {

    /** d = amax/127, q = round(x/d) (half away from zero, as C's roundf). */
    static void q8_0(float[] x, int xo, MemorySegment dst, long o) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(dst, o, d);
        for (int j = 0; j < 32; j++) putByte(dst, o + 2 + j, roundHalfAway(x[xo + j] * id));
    }

    /** d = max/-8 where max is the value of largest magnitude, so that value maps to -8 exactly. */
    static void q4_0(float[] x, int xo, MemorySegment dst, long o) {
        float max = signedAbsMax(x, xo);
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(dst, o, d);
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) (x[xo + j] * id + 8.5f));
            int q1 = Math.min(15, (int) (x[xo + 16 + j] * id + 8.5f));
            putByte(dst, o + 2 + j, q0 | (q1 << 4));
        }
    }

    static void q4_1(float[] x, int xo, MemorySegment dst, long o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[xo + j]);
            max = Math.max(max, x[xo + j]);
        }
        float d = (max - min) / 15;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(dst, o, d);
        putHalf(dst, o + 2, min);
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) ((x[xo + j] - min) * id + 0.5f));
            int q1 = Math.min(15, (int) ((x[xo + 16 + j] - min) * id + 0.5f));
            putByte(dst, o + 4 + j, q0 | (q1 << 4));
        }
    }

    static void q5_0(float[] x, int xo, MemorySegment dst, long o) {
        float max = signedAbsMax(x, xo);
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(dst, o, d);
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(31, (int) (x[xo + j] * id + 16.5f));
            int q1 = Math.min(31, (int) (x[xo + 16 + j] * id + 16.5f));
            putByte(dst, o + 6 + j, (q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((q0 & 0x10) >>> 4) << j;
            qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        dst.set(Simd.I32_LE, o + 2, qh);
    }

    static void q5_1(float[] x, int xo, MemorySegment dst, long o) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int j = 0; j < 32; j++) {
            min = Math.min(min, x[xo + j]);
            max = Math.max(max, x[xo + j]);
        }
        float d = (max - min) / 31;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putHalf(dst, o, d);
        putHalf(dst, o + 2, min);
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            // ggml casts without clamping; the clamp only guards against float rounding past 31.
            int q0 = Math.min(31, (int) ((x[xo + j] - min) * id + 0.5f));
            int q1 = Math.min(31, (int) ((x[xo + 16 + j] - min) * id + 0.5f));
            putByte(dst, o + 8 + j, (q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= ((q0 & 0x10) >>> 4) << j;
            qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        dst.set(Simd.I32_LE, o + 4, qh);
    }

    /** The element of largest magnitude, with its sign (the first one on ties, as ggml). */
    private static float signedAbsMax(float[] x, int xo) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[xo + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    private BlockQuantizers() {}
}
