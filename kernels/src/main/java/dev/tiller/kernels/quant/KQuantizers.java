package dev.tiller.kernels.quant;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Quantizer.nearestInt;
import static dev.tiller.kernels.quant.Quantizer.putByte;
import static dev.tiller.kernels.quant.Quantizer.putHalf;

/**
 * ggml's reference quantizers for the 256-element K types (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref, without
 * importance weights). Float arithmetic in ggml's order, so results match llama.cpp's closely.
 */
final class KQuantizers {
    private static final int QK = 256;

    static void q4_K(float[] x, int xo, MemorySegment dst, long o) {
        int[] levels = new int[QK];
        scaledMinQuants(x, xo, levels, 15, -1f, 0.1f, 20, dst, o);
        // qs: for each 64-element group, byte l = sub-block 2g element l | sub-block 2g+1 element l << 4
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) putByte(dst, o + 16 + 32 * g + l, levels[64 * g + l] | (levels[64 * g + 32 + l] << 4));
        }
    }

    static void q5_K(float[] x, int xo, MemorySegment dst, long o) {
        int[] levels = new int[QK];
        scaledMinQuants(x, xo, levels, 31, -0.5f, 0.1f, 15, dst, o);
        byte[] qh = new byte[32];
        for (int g = 0; g < 4; g++) {
            for (int l = 0; l < 32; l++) {
                int l1 = levels[64 * g + l], l2 = levels[64 * g + 32 + l];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[l] |= (byte) (1 << (2 * g));
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[l] |= (byte) (2 << (2 * g));
                }
                putByte(dst, o + 48 + 32 * g + l, l1 | (l2 << 4));
            }
        }
        for (int l = 0; l < 32; l++) putByte(dst, o + 16 + l, qh[l]);
    }

    /**
     * The shared part of Q4_K/Q5_K: per 32-element sub-block a scale and min (make_qkx2_quants), both quantized
     * to 6 bits against the block's d and dmin, then every element re-quantized with the stored scales. Writes d,
     * dmin and the 12 scale bytes at {@code o}; leaves the levels (0..nmax) in {@code levels}.
     */
    private static void scaledMinQuants(float[] x, int xo, int[] levels, int nmax, float rmin, float rdelta, int nstep,
                                        MemorySegment dst, long o) {
        float[] scales = new float[8], mins = new float[8], weights = new float[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int s = xo + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[s + l] * x[s + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[s + l]);
            scales[j] = makeQkx2Quants(32, nmax, x, s, weights, levels, 32 * j, mins, j, rmin, rdelta, nstep);
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte[] packed = new byte[12];
        for (int j = 0; j < 8; j++) {
            int ls = Math.min(63, nearestInt(invScale * scales[j]));
            int lm = Math.min(63, nearestInt(invMin * mins[j]));
            KScales.pack(packed, j, ls, lm);
        }
        putHalf(dst, o, maxScale / 63f);
        putHalf(dst, o + 2, maxMin / 63f);
        for (int i = 0; i < 12; i++) putByte(dst, o + 4 + i, packed[i]);

        float d = Simd.half(dst, o), dmin = Simd.half(dst, o + 2);
        for (int j = 0; j < 8; j++) {
            float dj = d * KScales.scale(dst, o + 4, j);
            if (dj == 0) continue;
            float mj = dmin * KScales.min(dst, o + 4, j);
            for (int l = 0; l < 32; l++) {
                int q = nearestInt((x[xo + 32 * j + l] + mj) / dj);
                levels[32 * j + l] = Math.max(0, Math.min(nmax, q));
            }
        }
    }

    /**
     * ggml's make_qkx2_quants: fits x ≈ scale * L + min (min ≤ 0, L in 0..nmax) minimizing the weighted squared
     * error, trying nstep+1 candidate scales. Stores -min in {@code minsOut[minIndex]} and returns the scale.
     */
    private static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int[] levels, int lo,
                                        float[] minsOut, int minIndex, float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = w[0], sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            min = Math.min(min, x[xo + i]);
            max = Math.max(max, x[xo + i]);
            sumW += w[i];
            sumX += w[i] * x[xo + i];
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) levels[lo + i] = 0;
            minsOut[minIndex] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
            levels[lo + i] = l;
            float diff = scale * l + min - x[xo + i];
            bestError += w[i] * diff * diff;
        }
        int[] aux = new int[n];
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                aux[i] = l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * aux[i] + thisMin - x[xo + i];
                    error += w[i] * diff * diff;
                }
                if (error < bestError) {
                    System.arraycopy(aux, 0, levels, lo, n);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        minsOut[minIndex] = -min;
        return scale;
    }

    static void q6_K(float[] x, int xo, MemorySegment dst, long o) {
        int[] levels = new int[QK];
        float[] scales = new float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float scale = makeQxQuants(16, 32, x, xo + 16 * ib, levels, 16 * ib);
            scales[ib] = scale;
            if (Math.abs(scale) > maxAbsScale) {
                maxAbsScale = Math.abs(scale);
                maxScale = scale;
            }
        }
        if (maxAbsScale == 0) {
            for (int i = 0; i < Q6_KFormat.BYTES; i++) putByte(dst, o + i, 0);
            return;
        }
        float iscale = -128f / maxScale;
        putHalf(dst, o + 208, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) putByte(dst, o + 192 + ib, Math.min(127, nearestInt(iscale * scales[ib])));

        float d = Simd.half(dst, o + 208);
        for (int j = 0; j < 16; j++) {
            float dj = d * dst.get(java.lang.foreign.ValueLayout.JAVA_BYTE, o + 192 + j);
            if (dj == 0) continue;
            for (int i = 0; i < 16; i++) {
                int l = nearestInt(x[xo + 16 * j + i] / dj);
                levels[16 * j + i] = Math.max(-32, Math.min(31, l)) + 32;
            }
        }
        for (int h = 0; h < 2; h++) {
            int base = 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = levels[base + l], q2 = levels[base + l + 32], q3 = levels[base + l + 64], q4 = levels[base + l + 96];
                putByte(dst, o + 64 * h + l, (q1 & 0xF) | ((q3 & 0xF) << 4));
                putByte(dst, o + 64 * h + l + 32, (q2 & 0xF) | ((q4 & 0xF) << 4));
                putByte(dst, o + 128 + 32 * h + l, (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }

    /**
     * ggml's make_qx_quants with rmse_type 1 and no importance weights: symmetric levels -nmax..nmax-1 (stored +nmax),
     * weighting by x^2, trying 19 scales around nmax/max. Returns the scale.
     */
    private static float makeQxQuants(int n, int nmax, float[] x, int xo, int[] levels, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < 1e-30f) {
            for (int i = 0; i < n; i++) levels[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float xi = x[xo + i];
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * xi)));
            levels[lo + i] = l + nmax;
            float w = xi * xi;
            sumLX += w * xi * l;
            sumL2 += w * l * l;
        }
        float scale = sumLX / sumL2;
        float best = scale * sumLX;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumLX = 0;
            sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * xi)));
                float w = xi * xi;
                sumLX += w * xi * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    levels[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    private KQuantizers() {}
}
