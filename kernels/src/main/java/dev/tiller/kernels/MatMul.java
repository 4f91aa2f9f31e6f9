package dev.tiller.kernels;

import dev.tiller.kernels.quant.BlockSums;

/**
 * Matrix products with weights read in place: {@code y = W x} for one token (decode) and {@code Y = X W^T} for a
 * batch of tokens (prefill), split across the worker pool by output rows.
 *
 * <p>Three paths by batch size: one token is a matrix-vector product straight from the quantized blocks; a few
 * tokens (fewer than {@link PackedGemm#MIN_TOKENS}) take inner-product tiles ({@link FloatDot#dot4x4}); a prompt
 * takes {@link PackedGemm}, which packs the tokens so that every weight is a broadcast scalar against 16 tokens
 * at a time and no horizontal sums are needed.
 *
 * <p>Products that share their input (q/k/v, gate/up) go in one call: the input is packed once and the rows of
 * all of them form one parallel job, so the small k and v projections cost no pool round trip of their own.
 */
public final class MatMul {
    /** Rows dequantized together in small-batch tiles: each token vector load then feeds this many FMAs. */
    private static final int ROW_TILE = 4;
    /** Columns of a row tile dequantized at a time: a multiple of every block size (256). */
    private static final int K_BLOCK = 1024;
    /** Below about this many weight elements per task, splitting costs more than it saves. */
    private static final int MIN_ELEMENTS_PER_TASK = 32 * 1024;

    private static final ThreadScratch SCRATCH = new ThreadScratch();

    /** y[yOff + r] = dot(W[r], x[xOff ..]) for every row r. */
    public static void matvec(WeightMatrix w, float[] x, int xOff, float[] y, int yOff) {
        checkLength("x", x.length, xOff, w.cols());
        checkLength("y", y.length, yOff, w.rows());
        int minRows = Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, w.cols()));
        float[] sums = w.format().usesBlockSums() ? BlockSums.of(x, xOff, w.cols()) : null;
        Parallel.forRange(w.rows(), minRows, (from, to) -> rows(w, x, xOff, sums, y, yOff, from, to));
    }

    /**
     * Rows [from, to) of a matrix-vector product. With a four-row kernel, four at a time from the four quarters of
     * the range: four independent memory streams instead of one (see {@link dev.tiller.kernels.quant.QuantFormat#dot4});
     * otherwise in order.
     */
    private static void rows(WeightMatrix w, float[] x, int xOff, float[] sums, float[] y, int yOff, int from, int to) {
        int start = from;
        if (w.format().hasFourRowKernel()) {
            int q = (to - from) / 4;
            for (int i = from; i < from + q; i++) w.dotRows4(i, i + q, i + 2 * q, i + 3 * q, x, xOff, sums, y, yOff);
            start = from + 4 * q;
        }
        for (int r = start; r < to; r++) y[yOff + r] = w.dotRow(r, x, xOff, sums);
    }

    /** For {@code n} tokens: x is [n][cols] row-major, y is [n][rows] row-major. */
    public static void matmul(WeightMatrix w, float[] x, int n, float[] y) {
        matmul(x, n, w, y, null, null, null, null);
    }

    /** Two products of the same input, as one parallel job (see the class comment). */
    public static void matmul(float[] x, int n, WeightMatrix w1, float[] y1, WeightMatrix w2, float[] y2) {
        matmul(x, n, w1, y1, w2, y2, null, null);
    }

    /** Up to three products of the same input x ([n][cols]), as one parallel job; unused pairs are null. */
    public static void matmul(float[] x, int n, WeightMatrix w1, float[] y1, WeightMatrix w2, float[] y2, WeightMatrix w3, float[] y3) {
        int cols = w1.cols();
        check(w1, x, n, y1, cols);
        if (w2 != null) check(w2, x, n, y2, cols);
        if (w3 != null) check(w3, x, n, y3, cols);
        Path path = n == 1 ? Path.ROWS : n < PackedGemm.MIN_TOKENS ? Path.TILES : Path.PACKED;
        float[] xp = path == Path.PACKED ? PackedGemm.pack(x, n, cols) : x;
        // one token: x's block sums once for every matrix of the job (they share x), not once per chunk
        boolean sumsUsed = w1.format().usesBlockSums() || (w2 != null && w2.format().usesBlockSums()) || (w3 != null && w3.format().usesBlockSums());
        float[] sums = path == Path.ROWS && sumsUsed ? BlockSums.of(x, 0, cols) : null;
        int u1 = path.units(w1), u2 = w2 == null ? 0 : path.units(w2), u3 = w3 == null ? 0 : path.units(w3);
        long workPerUnit = (long) path.rowsPerUnit() * cols * n;
        int minUnits = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, workPerUnit));
        Parallel.forRange(u1 + u2 + u3, minUnits, (from, to) -> {
            // the range may span matrices: each takes its own part, in its own unit numbering
            if (from < u1) path.run(w1, xp, sums, n, y1, from, Math.min(to, u1));
            if (to > u1 && from < u1 + u2) path.run(w2, xp, sums, n, y2, Math.max(from, u1) - u1, Math.min(to, u1 + u2) - u1);
            if (to > u1 + u2) path.run(w3, xp, sums, n, y3, Math.max(from, u1 + u2) - u1 - u2, to - u1 - u2);
        });
    }

    /** How a batch of n tokens is computed, and in what units of rows the work is split. */
    private enum Path {
        /** One token: a dot product per row, straight from the quantized blocks. */
        ROWS {
            int rowsPerUnit() {
                return 1;
            }

            void run(WeightMatrix w, float[] x, float[] sums, int n, float[] y, int from, int to) {
                rows(w, x, 0, sums, y, 0, from, to);
            }
        },
        /** A few tokens: rows dequantized tile by tile, inner products four rows x four tokens. */
        TILES {
            int rowsPerUnit() {
                return ROW_TILE;
            }

            void run(WeightMatrix w, float[] x, float[] sums, int n, float[] y, int from, int to) {
                matmulTiles(w, x, n, y, from, to);
            }
        },
        /** A prompt: packed tokens, broadcast weights ({@link PackedGemm}); x is the packed copy. */
        PACKED {
            int rowsPerUnit() {
                return PackedGemm.ROW_BLOCK;
            }

            void run(WeightMatrix w, float[] xp, float[] sums, int n, float[] y, int from, int to) {
                PackedGemm.rowBlocks(w, xp, n, y, from, to);
            }
        };

        abstract int rowsPerUnit();

        /** {@code sums}: x's block sums for the one-token path (null when no matrix reads them, and for the others). */
        abstract void run(WeightMatrix w, float[] x, float[] sums, int n, float[] y, int from, int to);

        int units(WeightMatrix w) {
            return (w.rows() + rowsPerUnit() - 1) / rowsPerUnit();
        }
    }

    /**
     * Tiles [fromTile, toTile) of {@link #ROW_TILE} weight rows: for each slice of {@link #K_BLOCK} columns the
     * tile's slice is dequantized once (16 KiB of floats, staying in L1) and run against every token four at a
     * time ({@link FloatDot#dot4x4}), adding the partial sums into y.
     */
    private static void matmulTiles(WeightMatrix w, float[] x, int n, float[] y, int fromTile, int toTile) {
        int rows = w.rows(), cols = w.cols();
        int kBlock = Math.min(cols, K_BLOCK);
        float[] scratch = SCRATCH.get(ROW_TILE * kBlock + 16);
        int outAt = ROW_TILE * kBlock;
        for (int k0 = 0; k0 < cols; k0 += kBlock) {
            int kl = Math.min(kBlock, cols - k0);
            for (int tile = fromTile; tile < toTile; tile++) {
                int r0 = tile * ROW_TILE;
                int count = Math.min(ROW_TILE, rows - r0);
                for (int k = 0; k < count; k++) w.dequantizeRow(r0 + k, k0, kl, scratch, k * kl);
                if (count < ROW_TILE) java.util.Arrays.fill(scratch, count * kl, ROW_TILE * kl, 0f);
                boolean add = k0 > 0;
                int t = 0;
                for (; t + 4 <= n; t += 4) {
                    FloatDot.dot4x4(scratch, kl, x, t * cols + k0, cols, kl, scratch, outAt);
                    for (int j = 0; j < 4; j++) {
                        int yo = (t + j) * rows + r0;
                        for (int k = 0; k < count; k++) {
                            float v = scratch[outAt + 4 * j + k];
                            y[yo + k] = add ? y[yo + k] + v : v;
                        }
                    }
                }
                for (; t < n; t++) {
                    FloatDot.dot4(scratch, kl, x, t * cols + k0, kl, scratch, outAt);
                    int yo = t * rows + r0;
                    for (int k = 0; k < count; k++) {
                        float v = scratch[outAt + k];
                        y[yo + k] = add ? y[yo + k] + v : v;
                    }
                }
            }
        }
    }

    private static void check(WeightMatrix w, float[] x, int n, float[] y, int cols) {
        if (w.cols() != cols) {
            throw new IllegalArgumentException("products of one input need equal column counts: " + w.tensor().name() + " has " + w.cols() + ", expected " + cols);
        }
        checkLength("x", x.length, 0, (long) n * cols);
        checkLength("y", y.length, 0, (long) n * w.rows());
    }

    private static void checkLength(String what, int length, int offset, long needed) {
        if (offset < 0 || offset + needed > length) {
            throw new IllegalArgumentException(what + " has " + length + " elements, needs " + needed + " from offset " + offset);
        }
    }

    private MatMul() {}
}
