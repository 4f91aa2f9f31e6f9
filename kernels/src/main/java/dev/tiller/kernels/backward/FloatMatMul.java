package dev.tiller.kernels.backward;

import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.ThreadScratch;
import dev.tiller.kernels.WeightMatrix;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The backward's transposed product in float32, {@code dX += dY · W}, with the weights read in place (any format): the
 * float twin of {@link DoubleMatMul#matmulTransposeAdd} for training on the CPU with float32 products (the forward's
 * {@code Y = X·Wᵀ} is the engine's own {@link dev.tiller.kernels.MatMul}). Float lanes hold twice the numbers of double
 * ones and the weights are used as dequantized, so it runs at about twice the speed.
 *
 * <p>Tokens go in blocks of {@link #TOKEN_BLOCK} (their dx rows stay in cache while every weight row is added in);
 * within a block, four weight rows dequantized together are added into four tokens at a time, so each loaded weight
 * vector feeds four fmas and each loaded gradient vector four.
 */
public final class FloatMatMul {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int ROW_TILE = 4, TOKEN_TILE = 4;
    static final int TOKEN_BLOCK = 32;
    private static final int MIN_ELEMENTS_PER_TASK = 256 * 1024;
    private static final ThreadScratch ROWS = new ThreadScratch();

    /** dx[t] += Σ_r dy[t][r] · W[r] for t in [0, n); dy is [n][rows], dx [n][cols]. */
    public static void matmulTransposeAdd(WeightMatrix w, float[] dy, int n, float[] dx) {
        int rows = w.rows(), cols = w.cols();
        if (dy.length < (long) n * rows) throw new IllegalArgumentException("dy has " + dy.length + " elements, needs " + (long) n * rows);
        if (dx.length < (long) n * cols) throw new IllegalArgumentException("dx has " + dx.length + " elements, needs " + (long) n * cols);
        int blocks = (n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        long workPerBlock = (long) rows * cols * Math.min(n, TOKEN_BLOCK);
        int minBlocks = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, workPerBlock));
        Parallel.forRange(blocks, minBlocks, (from, to) -> {
            float[] wr = ROWS.get(ROW_TILE * cols);
            for (int b = from; b < to; b++) {
                int t0 = b * TOKEN_BLOCK, t1 = Math.min(n, t0 + TOKEN_BLOCK);
                for (int r0 = 0; r0 < rows; r0 += ROW_TILE) {
                    int count = Math.min(ROW_TILE, rows - r0);
                    for (int k = 0; k < count; k++) w.dequantizeRow(r0 + k, wr, k * cols);
                    if (count < ROW_TILE) java.util.Arrays.fill(wr, count * cols, ROW_TILE * cols, 0f);   // a zero row adds zeros
                    int t = t0;
                    for (; t + TOKEN_TILE <= t1; t += TOKEN_TILE) add4x4(dx, t, dy, rows, r0, count, wr, cols);
                    for (; t < t1; t++) add4x1(dx, t * cols, dy, t * rows + r0, count, wr, cols);
                }
            }
        });
    }

    /**
     * Tokens t .. t+3: dx[t+j] += Σ_k dy[t+j][r0+k] · wr[k]; a row past the matrix has coefficient 0. The sixteen
     * coefficients are locals, not an array, so that they stay in registers (an array of vectors is boxed).
     */
    private static void add4x4(float[] dx, int t, float[] dy, int rows, int r0, int count, float[] wr, int cols) {
        int d0 = t * rows + r0, d1 = d0 + rows, d2 = d1 + rows, d3 = d2 + rows;
        FloatVector a0 = coef(dy, d0, 0, count), a1 = coef(dy, d0, 1, count), a2 = coef(dy, d0, 2, count), a3 = coef(dy, d0, 3, count);
        FloatVector b0 = coef(dy, d1, 0, count), b1 = coef(dy, d1, 1, count), b2 = coef(dy, d1, 2, count), b3 = coef(dy, d1, 3, count);
        FloatVector c0 = coef(dy, d2, 0, count), c1 = coef(dy, d2, 1, count), c2 = coef(dy, d2, 2, count), c3 = coef(dy, d2, 3, count);
        FloatVector e0 = coef(dy, d3, 0, count), e1 = coef(dy, d3, 1, count), e2 = coef(dy, d3, 2, count), e3 = coef(dy, d3, 3, count);
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        int i = 0, bound = S.loopBound(cols);
        for (; i < bound; i += S.length()) {
            FloatVector w0 = FloatVector.fromArray(S, wr, i), w1 = FloatVector.fromArray(S, wr, cols + i);
            FloatVector w2 = FloatVector.fromArray(S, wr, 2 * cols + i), w3 = FloatVector.fromArray(S, wr, 3 * cols + i);
            w3.fma(a3, w2.fma(a2, w1.fma(a1, w0.fma(a0, FloatVector.fromArray(S, dx, x0 + i))))).intoArray(dx, x0 + i);
            w3.fma(b3, w2.fma(b2, w1.fma(b1, w0.fma(b0, FloatVector.fromArray(S, dx, x1 + i))))).intoArray(dx, x1 + i);
            w3.fma(c3, w2.fma(c2, w1.fma(c1, w0.fma(c0, FloatVector.fromArray(S, dx, x2 + i))))).intoArray(dx, x2 + i);
            w3.fma(e3, w2.fma(e2, w1.fma(e1, w0.fma(e0, FloatVector.fromArray(S, dx, x3 + i))))).intoArray(dx, x3 + i);
        }
        for (; i < cols; i++) {
            for (int j = 0; j < TOKEN_TILE; j++) {
                int o = x0 + j * cols + i, d = d0 + j * rows;
                float s = dx[o];
                for (int k = 0; k < count; k++) s = Math.fma(dy[d + k], wr[k * cols + i], s);
                dx[o] = s;
            }
        }
    }

    private static FloatVector coef(float[] dy, int d, int k, int count) {
        return FloatVector.broadcast(S, k < count ? dy[d + k] : 0f);
    }

    /** One token: dx[xo ..] += Σ_k dy[d + k] · wr[k]. */
    private static void add4x1(float[] dx, int xo, float[] dy, int d, int count, float[] wr, int cols) {
        for (int k = 0; k < count; k++) {
            float a = dy[d + k];
            if (a == 0) continue;
            FloatVector va = FloatVector.broadcast(S, a);
            int i = 0, bound = S.loopBound(cols);
            for (; i < bound; i += S.length()) {
                FloatVector.fromArray(S, wr, k * cols + i).fma(va, FloatVector.fromArray(S, dx, xo + i)).intoArray(dx, xo + i);
            }
            for (; i < cols; i++) dx[xo + i] = Math.fma(a, wr[k * cols + i], dx[xo + i]);
        }
    }

    private FloatMatMul() {}
}
