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

    /**
     * The prefill micro-kernel: sixteen dot products of four rows (row k at {@code w[k * wStride ..]}) with four
     * token vectors (token j at {@code x[xOff + j * xStride ..]}) over {@code n} elements, each vector load feeding
     * four FMAs. Result (k, j) goes to {@code out[outOff + 4 * j + k]}.
     */
    public static void dot4x4(float[] w, int wStride, float[] x, int xOff, int xStride, int n, float[] out, int outOff) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F), a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F), a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F), a21 = FloatVector.zero(F), a22 = FloatVector.zero(F), a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F), a31 = FloatVector.zero(F), a32 = FloatVector.zero(F), a33 = FloatVector.zero(F);
        int w1 = wStride, w2 = 2 * wStride, w3 = 3 * wStride;
        int x0 = xOff, x1 = xOff + xStride, x2 = xOff + 2 * xStride, x3 = xOff + 3 * xStride;
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector v0 = FloatVector.fromArray(F, x, x0 + i);
            FloatVector v1 = FloatVector.fromArray(F, x, x1 + i);
            FloatVector v2 = FloatVector.fromArray(F, x, x2 + i);
            FloatVector v3 = FloatVector.fromArray(F, x, x3 + i);
            FloatVector r = FloatVector.fromArray(F, w, i);
            a00 = r.fma(v0, a00); a01 = r.fma(v1, a01); a02 = r.fma(v2, a02); a03 = r.fma(v3, a03);
            r = FloatVector.fromArray(F, w, w1 + i);
            a10 = r.fma(v0, a10); a11 = r.fma(v1, a11); a12 = r.fma(v2, a12); a13 = r.fma(v3, a13);
            r = FloatVector.fromArray(F, w, w2 + i);
            a20 = r.fma(v0, a20); a21 = r.fma(v1, a21); a22 = r.fma(v2, a22); a23 = r.fma(v3, a23);
            r = FloatVector.fromArray(F, w, w3 + i);
            a30 = r.fma(v0, a30); a31 = r.fma(v1, a31); a32 = r.fma(v2, a32); a33 = r.fma(v3, a33);
        }
        out[outOff + 0] = a00.reduceLanes(VectorOperators.ADD); out[outOff + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[outOff + 2] = a20.reduceLanes(VectorOperators.ADD); out[outOff + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[outOff + 4] = a01.reduceLanes(VectorOperators.ADD); out[outOff + 5] = a11.reduceLanes(VectorOperators.ADD);
        out[outOff + 6] = a21.reduceLanes(VectorOperators.ADD); out[outOff + 7] = a31.reduceLanes(VectorOperators.ADD);
        out[outOff + 8] = a02.reduceLanes(VectorOperators.ADD); out[outOff + 9] = a12.reduceLanes(VectorOperators.ADD);
        out[outOff + 10] = a22.reduceLanes(VectorOperators.ADD); out[outOff + 11] = a32.reduceLanes(VectorOperators.ADD);
        out[outOff + 12] = a03.reduceLanes(VectorOperators.ADD); out[outOff + 13] = a13.reduceLanes(VectorOperators.ADD);
        out[outOff + 14] = a23.reduceLanes(VectorOperators.ADD); out[outOff + 15] = a33.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            for (int k = 0; k < 4; k++) {
                float wk = w[k * wStride + i];
                for (int j = 0; j < 4; j++) out[outOff + 4 * j + k] += wk * x[xOff + j * xStride + i];
            }
        }
    }

    private FloatDot() {}
}
