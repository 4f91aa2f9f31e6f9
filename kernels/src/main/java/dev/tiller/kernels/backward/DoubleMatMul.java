package dev.tiller.kernels.backward;

import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Products of a frozen weight matrix with float64 activations, for training steering vectors by backprop:
 * {@code Y = X W^T} (forward) and {@code dX += dY W} (the transpose product of the backward pass). The weights are
 * read in place in whatever format they are stored: each row is dequantized by {@link WeightMatrix#dequantizeRow}
 * into a small per-thread scratch, exactly the values the float forward uses, then widened to double. Nothing the
 * size of a matrix is ever copied.
 */
public final class DoubleMatMul {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int ROW_TILE = 4;
    private static final int MIN_ELEMENTS_PER_TASK = 16 * 1024;

    private static final ThreadLocal<float[]> FSCRATCH = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<double[]> DSCRATCH = ThreadLocal.withInitial(() -> new double[0]);

    /** x is [n][cols], y is [n][rows], both row-major: y[t][r] = W[r] · x[t]. */
    public static void matmul(WeightMatrix w, double[] x, int n, double[] y) {
        int rows = w.rows(), cols = w.cols();
        check("x", x.length, (long) n * cols);
        check("y", y.length, (long) n * rows);
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        long workPerTile = (long) ROW_TILE * cols * Math.max(1, n);
        int minTiles = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / workPerTile);
        Parallel.forRange(tiles, minTiles, (from, to) -> {
            double[] wr = dscratch(ROW_TILE * cols);
            for (int tile = from; tile < to; tile++) {
                int r0 = tile * ROW_TILE, count = Math.min(ROW_TILE, rows - r0);
                for (int k = 0; k < count; k++) row(w, r0 + k, wr, k * cols);
                for (int t = 0; t < n; t++) {
                    for (int k = 0; k < count; k++) y[t * rows + r0 + k] = dot(wr, k * cols, x, t * cols, cols);
                }
            }
        });
    }

    /**
     * dx[t] += Σ_r dy[t][r] · W[r] for t in [0, n): the product with W^T, computed by streaming the rows of W (each
     * dequantized once per thread) and adding each, scaled, into every token's gradient. Zero coefficients are
     * skipped, so sparse dy (an unembedding gradient on a few rows) costs little.
     */
    public static void matmulTransposeAdd(WeightMatrix w, double[] dy, int n, double[] dx) {
        int rows = w.rows(), cols = w.cols();
        check("dy", dy.length, (long) n * rows);
        check("dx", dx.length, (long) n * cols);
        // tokens in blocks of TOKEN_BLOCK so that a block's dx rows stay in cache while every row of W is added into
        // them (one pass over all n tokens per weight row streamed dx through memory rows times); each weight row is
        // dequantized once per block, 1/TOKEN_BLOCK of the multiply-adds
        int blocks = (n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        long workPerBlock = (long) rows * cols * Math.min(n, TOKEN_BLOCK);
        int minBlocks = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, workPerBlock));
        Parallel.forRange(blocks, minBlocks, (from, to) -> {
            double[] wr = dscratch(cols);
            for (int b = from; b < to; b++) {
                int t0 = b * TOKEN_BLOCK, t1 = Math.min(n, t0 + TOKEN_BLOCK);
                for (int r = 0; r < rows; r++) {
                    boolean any = false;
                    for (int t = t0; t < t1 && !any; t++) any = dy[t * rows + r] != 0;
                    if (!any) continue;
                    row(w, r, wr, 0);
                    for (int t = t0; t < t1; t++) {
                        double a = dy[t * rows + r];
                        if (a != 0) axpy(dx, t * cols, a, wr, 0, cols);
                    }
                }
            }
        });
    }

    static final int TOKEN_BLOCK = 32;

    /** Row r of W widened to double into dst[off ..]. */
    public static void row(WeightMatrix w, int r, double[] dst, int off) {
        int cols = w.cols();
        float[] f = fscratch(cols);
        w.dequantizeRow(r, f, 0);
        for (int i = 0; i < cols; i++) dst[off + i] = f[i];
    }

    public static double dot(double[] a, int aOff, double[] b, int bOff, int n) {
        int i = 0, bound = S.loopBound(n);
        DoubleVector acc = DoubleVector.zero(S);
        for (; i < bound; i += S.length()) {
            acc = DoubleVector.fromArray(S, a, aOff + i).fma(DoubleVector.fromArray(S, b, bOff + i), acc);
        }
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /** y[yOff ..] += a · x[xOff ..]. */
    public static void axpy(double[] y, int yOff, double a, double[] x, int xOff, int n) {
        int i = 0, bound = S.loopBound(n);
        DoubleVector va = DoubleVector.broadcast(S, a);
        for (; i < bound; i += S.length()) {
            DoubleVector.fromArray(S, x, xOff + i).fma(va, DoubleVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    private static float[] fscratch(int size) {
        float[] s = FSCRATCH.get();
        if (s.length < size) FSCRATCH.set(s = new float[size]);
        return s;
    }

    private static double[] dscratch(int size) {
        double[] s = DSCRATCH.get();
        if (s.length < size) DSCRATCH.set(s = new double[size]);
        return s;
    }

    private static void check(String what, int length, long needed) {
        if (length < needed) throw new IllegalArgumentException(what + " has " + length + " elements, needs " + needed);
    }

    private DoubleMatMul() {}
}
