package dev.tiller.kernels.backward;

import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.ThreadScratch;
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

    private static final ThreadScratch FSCRATCH = new ThreadScratch();
    private static final ThreadLocal<double[]> DSCRATCH = ThreadLocal.withInitial(() -> new double[0]);

    /**
     * x is [n][cols], y is [n][rows], both row-major: y[t][r] = W[r] · x[t].
     *
     * <p>Work is split into tiles of TOKEN_BLOCK tokens × a range of weight rows. Inside a tile, four weight rows at a
     * time are widened into a scratch and dotted with two tokens at a time ({@link #dot4x2}): eight dot products share
     * their loads, and the block's x rows stay in cache while every weight row of the range passes by. (Looping over
     * all n tokens per weight row, as before, streamed x from memory rows/4 times per product, which made the
     * float64 forward memory-bound.) Each y value is summed in the same order as {@link #dot}.
     */
    public static void matmul(WeightMatrix w, double[] x, int n, double[] y) {
        int rows = w.rows(), cols = w.cols();
        check("x", x.length, (long) n * cols);
        check("y", y.length, (long) n * rows);
        if (n == 0) return;
        int blocks = (n + TOKEN_BLOCK - 1) / TOKEN_BLOCK;
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        // few token blocks (short inputs): also split the rows, so that every thread gets work
        int rowChunks = Math.min(tiles, Math.max(1, (Parallel.threads() * 4 + blocks - 1) / blocks));
        long workPerTask = (long) Math.min(n, TOKEN_BLOCK) * cols * rows / rowChunks;
        int minTasks = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, workPerTask));
        Parallel.forRange(blocks * rowChunks, minTasks, (from, to) -> {
            double[] wr = dscratch(ROW_TILE * cols);
            float[] f = FSCRATCH.get(cols);
            for (int task = from; task < to; task++) {
                int b = task / rowChunks, chunk = task % rowChunks;
                int t0 = b * TOKEN_BLOCK, t1 = Math.min(n, t0 + TOKEN_BLOCK);
                int tile0 = (int) ((long) tiles * chunk / rowChunks), tile1 = (int) ((long) tiles * (chunk + 1) / rowChunks);
                for (int tile = tile0; tile < tile1; tile++) {
                    int r0 = tile * ROW_TILE, count = Math.min(ROW_TILE, rows - r0);
                    for (int k = 0; k < count; k++) widen(w, r0 + k, f, wr, k * cols);
                    int t = t0;
                    if (count == ROW_TILE) {
                        for (; t + 1 < t1; t += 2) dot4x2(wr, cols, x, t * cols, (t + 1) * cols, y, t * rows + r0, (t + 1) * rows + r0);
                    }
                    for (; t < t1; t++) {
                        for (int k = 0; k < count; k++) y[t * rows + r0 + k] = dot(wr, k * cols, x, t * cols, cols);
                    }
                }
            }
        });
    }

    /**
     * The eight dot products of four consecutive weight rows (wr[0..4·cols)) with two tokens' rows (x at xa and xb),
     * into y[ya..ya+3] and y[yb..yb+3]. Each accumulator sees the same fma sequence, lane reduction and scalar tail as
     * {@link #dot} (equal to it up to the last bit of the lane reduction, whose order the Vector API leaves to the
     * compiler); the point is that each loaded vector feeds two or four fmas.
     */
    private static void dot4x2(double[] wr, int cols, double[] x, int xa, int xb, double[] y, int ya, int yb) {
        DoubleVector a0 = DoubleVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int i = 0, bound = S.loopBound(cols);
        for (; i < bound; i += S.length()) {
            DoubleVector xA = DoubleVector.fromArray(S, x, xa + i), xB = DoubleVector.fromArray(S, x, xb + i);
            DoubleVector w0 = DoubleVector.fromArray(S, wr, i), w1 = DoubleVector.fromArray(S, wr, cols + i);
            DoubleVector w2 = DoubleVector.fromArray(S, wr, 2 * cols + i), w3 = DoubleVector.fromArray(S, wr, 3 * cols + i);
            a0 = w0.fma(xA, a0); a1 = w1.fma(xA, a1); a2 = w2.fma(xA, a2); a3 = w3.fma(xA, a3);
            b0 = w0.fma(xB, b0); b1 = w1.fma(xB, b1); b2 = w2.fma(xB, b2); b3 = w3.fma(xB, b3);
        }
        y[ya] = finish(a0, wr, 0, x, xa, i, cols);
        y[ya + 1] = finish(a1, wr, cols, x, xa, i, cols);
        y[ya + 2] = finish(a2, wr, 2 * cols, x, xa, i, cols);
        y[ya + 3] = finish(a3, wr, 3 * cols, x, xa, i, cols);
        y[yb] = finish(b0, wr, 0, x, xb, i, cols);
        y[yb + 1] = finish(b1, wr, cols, x, xb, i, cols);
        y[yb + 2] = finish(b2, wr, 2 * cols, x, xb, i, cols);
        y[yb + 3] = finish(b3, wr, 3 * cols, x, xb, i, cols);
    }

    /** The end of {@link #dot}: reduce the vector accumulator's lanes, then add the scalar tail from {@code i}. */
    private static double finish(DoubleVector acc, double[] a, int aOff, double[] b, int bOff, int i, int n) {
        double s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /**
     * dx[t] += Σ_r dy[t][r] · W[r] for t in [0, n): the product with W^T, computed by streaming the rows of W (each
     * dequantized once per token block) and adding them, scaled, into the block's gradients. Zero coefficients are
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
            double[] wr = dscratch(ROW_TILE * cols);
            float[] f = FSCRATCH.get(cols);
            for (int b = from; b < to; b++) {
                int t0 = b * TOKEN_BLOCK, t1 = Math.min(n, t0 + TOKEN_BLOCK);
                for (int r0 = 0; r0 < rows; r0 += ROW_TILE) {
                    int count = Math.min(ROW_TILE, rows - r0);
                    boolean any = false;
                    for (int t = t0; t < t1 && !any; t++) for (int k = 0; k < count && !any; k++) any = dy[t * rows + r0 + k] != 0;
                    if (!any) continue;
                    for (int k = 0; k < count; k++) widen(w, r0 + k, f, wr, k * cols);
                    for (int t = t0; t < t1; t++) {
                        int d = t * rows + r0;
                        if (count == ROW_TILE) {
                            boolean live = anyNonZero(dy, d);
                            if (live && t + 1 < t1 && anyNonZero(dy, d + rows)) {
                                // two tokens × four rows in one pass: each loaded weight vector feeds two fmas
                                axpy4x2(dx, t * cols, (t + 1) * cols, dy, d, d + rows, wr, cols);
                                t++;
                            } else if (live) {
                                axpy4(dx, t * cols, dy[d], dy[d + 1], dy[d + 2], dy[d + 3], wr, cols);
                            }
                        } else {
                            for (int k = 0; k < count; k++) if (dy[d + k] != 0) axpy(dx, t * cols, dy[d + k], wr, k * cols, cols);
                        }
                    }
                }
            }
        });
    }

    private static boolean anyNonZero(double[] a, int off) {
        return a[off] != 0 || a[off + 1] != 0 || a[off + 2] != 0 || a[off + 3] != 0;
    }

    /**
     * {@link #axpy4} for two tokens at once: y[ya ..] += Σ_k dy[da + k]·w[k·cols ..] and y[yb ..] += Σ_k dy[db + k]·w[k·cols ..],
     * each in the same order as axpy4 (so with the same result); one load of each weight vector serves both tokens.
     */
    private static void axpy4x2(double[] y, int ya, int yb, double[] dy, int da, int db, double[] w, int cols) {
        DoubleVector a0 = DoubleVector.broadcast(S, dy[da]), a1 = DoubleVector.broadcast(S, dy[da + 1]);
        DoubleVector a2 = DoubleVector.broadcast(S, dy[da + 2]), a3 = DoubleVector.broadcast(S, dy[da + 3]);
        DoubleVector b0 = DoubleVector.broadcast(S, dy[db]), b1 = DoubleVector.broadcast(S, dy[db + 1]);
        DoubleVector b2 = DoubleVector.broadcast(S, dy[db + 2]), b3 = DoubleVector.broadcast(S, dy[db + 3]);
        int i = 0, bound = S.loopBound(cols);
        for (; i < bound; i += S.length()) {
            DoubleVector w0 = DoubleVector.fromArray(S, w, i), w1 = DoubleVector.fromArray(S, w, cols + i);
            DoubleVector w2 = DoubleVector.fromArray(S, w, 2 * cols + i), w3 = DoubleVector.fromArray(S, w, 3 * cols + i);
            DoubleVector ya0 = DoubleVector.fromArray(S, y, ya + i), yb0 = DoubleVector.fromArray(S, y, yb + i);
            ya0 = w3.fma(a3, w2.fma(a2, w1.fma(a1, w0.fma(a0, ya0))));
            yb0 = w3.fma(b3, w2.fma(b2, w1.fma(b1, w0.fma(b0, yb0))));
            ya0.intoArray(y, ya + i);
            yb0.intoArray(y, yb + i);
        }
        for (; i < cols; i++) {
            double sa = y[ya + i], sb = y[yb + i];
            for (int k = 0; k < ROW_TILE; k++) {
                sa += dy[da + k] * w[k * cols + i];
                sb += dy[db + k] * w[k * cols + i];
            }
            y[ya + i] = sa;
            y[yb + i] = sb;
        }
    }

    /**
     * y[yOff ..] += a0·w[0..] + a1·w[cols..] + a2·w[2cols..] + a3·w[3cols..], added in that order with one fma each,
     * exactly as four {@link #axpy} calls would (a zero coefficient adds an exact zero).
     */
    private static void axpy4(double[] y, int yOff, double a0, double a1, double a2, double a3, double[] w, int cols) {
        DoubleVector v0 = DoubleVector.broadcast(S, a0), v1 = DoubleVector.broadcast(S, a1);
        DoubleVector v2 = DoubleVector.broadcast(S, a2), v3 = DoubleVector.broadcast(S, a3);
        int i = 0, bound = S.loopBound(cols);
        for (; i < bound; i += S.length()) {
            DoubleVector acc = DoubleVector.fromArray(S, y, yOff + i);
            acc = DoubleVector.fromArray(S, w, i).fma(v0, acc);
            acc = DoubleVector.fromArray(S, w, cols + i).fma(v1, acc);
            acc = DoubleVector.fromArray(S, w, 2 * cols + i).fma(v2, acc);
            acc = DoubleVector.fromArray(S, w, 3 * cols + i).fma(v3, acc);
            acc.intoArray(y, yOff + i);
        }
        for (; i < cols; i++) {
            double s = y[yOff + i];
            s += a0 * w[i];
            s += a1 * w[cols + i];
            s += a2 * w[2 * cols + i];
            s += a3 * w[3 * cols + i];
            y[yOff + i] = s;
        }
    }

    static final int TOKEN_BLOCK = 32;

    /** Row r of W widened to double into dst[off ..]. */
    public static void row(WeightMatrix w, int r, double[] dst, int off) {
        widen(w, r, FSCRATCH.get(w.cols()), dst, off);
    }

    /** As {@link #row}, dequantizing through the caller's scratch f (a thread-local lookup per row costs ~10% of a product). */
    private static void widen(WeightMatrix w, int r, float[] f, double[] dst, int off) {
        int cols = w.cols();
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
