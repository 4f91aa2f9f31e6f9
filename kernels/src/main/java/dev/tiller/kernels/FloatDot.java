package dev.tiller.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Vectorized dot products of float arrays (the inner loop of prefill once weight rows are dequantized). */
public final class FloatDot {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    /** sum(a[aOff + i] * b[bOff + i]) for i in [0, n). */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), acc1);
        }
        for (; i + L <= n; i += L) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /**
     * Four dot products sharing one vector {@code x}: rows k = 0..3 start at {@code rows[k * rowStride]};
     * results go to {@code y[yOff + k]}. Each x vector is loaded once for four FMAs.
     */
    public static void dot4(float[] rows, int rowStride, float[] x, int xOff, int n, float[] y, int yOff) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        int r1 = rowStride, r2 = 2 * rowStride, r3 = 3 * rowStride;
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xOff + i);
            a0 = FloatVector.fromArray(F, rows, i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, rows, r1 + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, rows, r2 + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, rows, r3 + i).fma(xv, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float xi = x[xOff + i];
            s0 += rows[i] * xi;
            s1 += rows[r1 + i] * xi;
            s2 += rows[r2 + i] * xi;
            s3 += rows[r3 + i] * xi;
        }
        y[yOff] = s0;
        y[yOff + 1] = s1;
        y[yOff + 2] = s2;
        y[yOff + 3] = s3;
    }

    private FloatDot() {}
}
