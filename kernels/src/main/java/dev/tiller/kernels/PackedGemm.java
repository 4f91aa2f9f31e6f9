package dev.tiller.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * {@code Y = X W^T} for a prompt's worth of tokens, the outer-product way: the tokens are packed column-major
 * ({@code xp[k][token]}, 64 tokens to a group) so that one weight value, broadcast, multiplies 16 tokens in a
 * single FMA. The micro-kernel keeps a 4-row x 64-token block of Y in 16 vector registers for a whole column
 * slice: per column it loads 4 token vectors and broadcasts 4 weights for 16 FMAs, and it never needs a
 * horizontal sum (the inner-product tiles of {@link FloatDot#dot4x4} spend 16 of them per tile and slice).
 *
 * <p>Blocking: each task takes {@link #ROW_BLOCK} weight rows; for each slice of {@code kSlice} columns it
 * dequantizes those rows once (up to 16 KiB, L1) and runs them against every token group, whose packed slice
 * (64 x kSlice floats, up to 64 KiB) comes from L2. Partial sums live in a per-thread {@code [rows][tokens]} block
 * and are written to Y (token-major) once at the end.
 */
final class PackedGemm {
    /** Below this many tokens the 16-token padding costs more than the broadcast form saves. */
    static final int MIN_TOKENS = 16;

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Tokens per packed group: four vectors, the width of the micro-kernel. */
    private static final int GROUP = 4 * L;
    /** Weight rows per task and per dequantized block; a multiple of the micro-kernel's 4 rows. */
    static final int ROW_BLOCK = 16;
    /**
     * Columns per dequantized slice (K-quant blocks are 256 wide anyway): 16 x 256 floats = 16 KiB, half of L1.
     * Measured against 128 and 512 (pp128, 2 threads, alternating): Qwen2.5-0.5B Q8_0 156-176 tok/s at 128,
     * 188-195 at 256, 182-189 at 512; Q4_0, Q5_0, F16 and the Llama-3.2-1B shapes did not move outside the noise.
     */
    private static final int K_SLICE = 256;

    /** Largest packed input (floats) kept in {@link #PACKED} between calls. */
    private static final int MAX_KEPT_PACKED = 1 << 22;

    private static final ThreadScratch PACKED = new ThreadScratch();
    private static final ThreadScratch WEIGHTS = new ThreadScratch();
    private static final ThreadScratch PARTIAL = new ThreadScratch();

    /**
     * Token t's column k goes to {@code xp[g * cols * width + k * width + (t - g * GROUP)]}, zero-padded. Column by
     * column, so the stores are contiguous and the strided loads hit the same 64 lines for 16 columns.
     */
    static float[] pack(float[] x, int n, int cols) {
        int padded = padded(n);
        // a long prompt's packed copy is as large as its activations: kept per thread only up to 16 MiB, so that one
        // long prefill does not pin its size in memory for the thread's lifetime
        long size = (long) cols * padded;
        float[] xp = size <= MAX_KEPT_PACKED ? PACKED.get((int) size) : new float[Math.toIntExact(size)];
        for (int g0 = 0; g0 < padded; g0 += GROUP) {
            int width = Math.min(GROUP, padded - g0), real = Math.min(width, n - g0), base = g0 * cols;
            for (int k = 0; k < cols; k++) {
                int o = base + k * width;
                for (int j = 0; j < real; j++) xp[o + j] = x[(g0 + j) * cols + k];
                for (int j = real; j < width; j++) xp[o + j] = 0f;
            }
        }
        return xp;
    }

    /** Tokens rounded up to whole vectors. */
    static int padded(int n) {
        return (n + L - 1) / L * L;
    }

    /** Row blocks [from, to) of {@code Y = X W^T}, X already packed by {@link #pack}; called by each worker. */
    static void rowBlocks(WeightMatrix w, float[] xp, int n, float[] y, int from, int to) {
        int padded = padded(n);
        int kSlice = Math.min(w.cols(), Math.max(K_SLICE, w.tensor().type().blockSize));
        float[] wd = WEIGHTS.get(ROW_BLOCK * kSlice);
        float[] part = PARTIAL.get(ROW_BLOCK * padded);
        for (int b = from; b < to; b++) rowBlock(w, xp, n, padded, kSlice, b * ROW_BLOCK, wd, part, y);
    }

    private static void rowBlock(WeightMatrix w, float[] xp, int n, int padded, int kSlice, int r0, float[] wd, float[] part, float[] y) {
        int rows = w.rows(), cols = w.cols();
        int count = Math.min(ROW_BLOCK, rows - r0);
        Arrays.fill(part, 0, ROW_BLOCK * padded, 0f);
        for (int k0 = 0; k0 < cols; k0 += kSlice) {
            int kl = Math.min(kSlice, cols - k0);
            for (int r = 0; r < count; r++) w.dequantizeRow(r0 + r, k0, kl, wd, r * kl);
            if (count < ROW_BLOCK) Arrays.fill(wd, count * kl, ROW_BLOCK * kl, 0f);
            for (int g0 = 0; g0 < padded; g0 += GROUP) {
                int width = Math.min(GROUP, padded - g0);
                int xo = g0 * cols + k0 * width;
                for (int r = 0; r < ROW_BLOCK; r += 4) {
                    int po = r * padded + g0;
                    if (width == GROUP) {
                        int even = kl & ~1;
                        kernel4x4(wd, r * kl, kl, even, xp, xo, part, po, padded);
                        if (even < kl) {
                            for (int v = 0; v < width; v += L) kernel4x1(wd, r * kl + even, kl, 1, xp, xo + even * width + v, width, part, po + v, padded);
                        }
                    } else {
                        for (int v = 0; v < width; v += L) kernel4x1(wd, r * kl, kl, kl, xp, xo + v, width, part, po + v, padded);
                    }
                }
            }
        }
        for (int r = 0; r < count; r++) {
            for (int t = 0; t < n; t++) y[t * rows + r0 + r] = part[r * padded + t];
        }
    }

    /**
     * part[r][t..t+4L) += sum over k of wd[r][k] * xp[k][t..t+4L) for the 4 rows at {@code wo} (row stride kl) and
     * the 64 tokens at {@code xo} (column stride {@link #GROUP}); part's row stride is {@code ps}. {@code cols} is
     * even: the loop is unrolled by two (its overhead shows otherwise), and a tail loop here would make the method
     * too large for C2 to keep every vector in a register (measured: 0.55x).
     */
    private static void kernel4x4(float[] wd, int wo, int kl, int cols, float[] xp, int xo, float[] part, int po, int ps) {
        int p1 = po + ps, p2 = po + 2 * ps, p3 = po + 3 * ps;
        FloatVector a00 = FloatVector.fromArray(F, part, po), a01 = FloatVector.fromArray(F, part, po + L);
        FloatVector a02 = FloatVector.fromArray(F, part, po + 2 * L), a03 = FloatVector.fromArray(F, part, po + 3 * L);
        FloatVector a10 = FloatVector.fromArray(F, part, p1), a11 = FloatVector.fromArray(F, part, p1 + L);
        FloatVector a12 = FloatVector.fromArray(F, part, p1 + 2 * L), a13 = FloatVector.fromArray(F, part, p1 + 3 * L);
        FloatVector a20 = FloatVector.fromArray(F, part, p2), a21 = FloatVector.fromArray(F, part, p2 + L);
        FloatVector a22 = FloatVector.fromArray(F, part, p2 + 2 * L), a23 = FloatVector.fromArray(F, part, p2 + 3 * L);
        FloatVector a30 = FloatVector.fromArray(F, part, p3), a31 = FloatVector.fromArray(F, part, p3 + L);
        FloatVector a32 = FloatVector.fromArray(F, part, p3 + 2 * L), a33 = FloatVector.fromArray(F, part, p3 + 3 * L);
        int w0 = wo, w1 = wo + kl, w2 = wo + 2 * kl, w3 = wo + 3 * kl;
        for (int k = 0; k < cols; k += 2) {
            int xk = xo + k * GROUP;
            FloatVector x0 = FloatVector.fromArray(F, xp, xk), x1 = FloatVector.fromArray(F, xp, xk + L);
            FloatVector x2 = FloatVector.fromArray(F, xp, xk + 2 * L), x3 = FloatVector.fromArray(F, xp, xk + 3 * L);
            FloatVector b = FloatVector.broadcast(F, wd[w0 + k]);
            a00 = b.fma(x0, a00); a01 = b.fma(x1, a01); a02 = b.fma(x2, a02); a03 = b.fma(x3, a03);
            b = FloatVector.broadcast(F, wd[w1 + k]);
            a10 = b.fma(x0, a10); a11 = b.fma(x1, a11); a12 = b.fma(x2, a12); a13 = b.fma(x3, a13);
            b = FloatVector.broadcast(F, wd[w2 + k]);
            a20 = b.fma(x0, a20); a21 = b.fma(x1, a21); a22 = b.fma(x2, a22); a23 = b.fma(x3, a23);
            b = FloatVector.broadcast(F, wd[w3 + k]);
            a30 = b.fma(x0, a30); a31 = b.fma(x1, a31); a32 = b.fma(x2, a32); a33 = b.fma(x3, a33);
            xk += GROUP;
            x0 = FloatVector.fromArray(F, xp, xk); x1 = FloatVector.fromArray(F, xp, xk + L);
            x2 = FloatVector.fromArray(F, xp, xk + 2 * L); x3 = FloatVector.fromArray(F, xp, xk + 3 * L);
            b = FloatVector.broadcast(F, wd[w0 + k + 1]);
            a00 = b.fma(x0, a00); a01 = b.fma(x1, a01); a02 = b.fma(x2, a02); a03 = b.fma(x3, a03);
            b = FloatVector.broadcast(F, wd[w1 + k + 1]);
            a10 = b.fma(x0, a10); a11 = b.fma(x1, a11); a12 = b.fma(x2, a12); a13 = b.fma(x3, a13);
            b = FloatVector.broadcast(F, wd[w2 + k + 1]);
            a20 = b.fma(x0, a20); a21 = b.fma(x1, a21); a22 = b.fma(x2, a22); a23 = b.fma(x3, a23);
            b = FloatVector.broadcast(F, wd[w3 + k + 1]);
            a30 = b.fma(x0, a30); a31 = b.fma(x1, a31); a32 = b.fma(x2, a32); a33 = b.fma(x3, a33);
        }
        a00.intoArray(part, po); a01.intoArray(part, po + L); a02.intoArray(part, po + 2 * L); a03.intoArray(part, po + 3 * L);
        a10.intoArray(part, p1); a11.intoArray(part, p1 + L); a12.intoArray(part, p1 + 2 * L); a13.intoArray(part, p1 + 3 * L);
        a20.intoArray(part, p2); a21.intoArray(part, p2 + L); a22.intoArray(part, p2 + 2 * L); a23.intoArray(part, p2 + 3 * L);
        a30.intoArray(part, p3); a31.intoArray(part, p3 + L); a32.intoArray(part, p3 + 2 * L); a33.intoArray(part, p3 + 3 * L);
    }

    /**
     * 4 rows x one vector of tokens at {@code xo} (column stride {@code xs}) over {@code cols} columns: the last,
     * narrower token group, and the odd last column of a slice that {@link #kernel4x4} (two at a time) leaves.
     */
    private static void kernel4x1(float[] wd, int wo, int kl, int cols, float[] xp, int xo, int xs, float[] part, int po, int ps) {
        int p1 = po + ps, p2 = po + 2 * ps, p3 = po + 3 * ps;
        FloatVector a0 = FloatVector.fromArray(F, part, po), a1 = FloatVector.fromArray(F, part, p1);
        FloatVector a2 = FloatVector.fromArray(F, part, p2), a3 = FloatVector.fromArray(F, part, p3);
        int w1 = wo + kl, w2 = wo + 2 * kl, w3 = wo + 3 * kl;
        for (int k = 0; k < cols; k++) {
            FloatVector xv = FloatVector.fromArray(F, xp, xo + k * xs);
            a0 = FloatVector.broadcast(F, wd[wo + k]).fma(xv, a0);
            a1 = FloatVector.broadcast(F, wd[w1 + k]).fma(xv, a1);
            a2 = FloatVector.broadcast(F, wd[w2 + k]).fma(xv, a2);
            a3 = FloatVector.broadcast(F, wd[w3 + k]).fma(xv, a3);
        }
        a0.intoArray(part, po); a1.intoArray(part, p1); a2.intoArray(part, p2); a3.intoArray(part, p3);
    }

    private PackedGemm() {}
}
