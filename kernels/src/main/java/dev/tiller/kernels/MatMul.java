package dev.tiller.kernels;

/**
 * Matrix products with weights read in place: {@code y = W x} for one token (decode) and {@code Y = X W^T} for a
 * batch of tokens (prefill), split across the worker pool by output rows.
 */
public final class MatMul {
    /** Rows dequantized together in prefill: each token vector load then feeds this many FMAs. */
    private static final int ROW_TILE = 4;
    /** Columns of a row tile dequantized at a time: a multiple of every block size (256). */
    private static final int K_BLOCK = 1024;
    /** Below about this many weight elements per task, splitting costs more than it saves. */
    private static final int MIN_ELEMENTS_PER_TASK = 32 * 1024;

    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    /** y[yOff + r] = dot(W[r], x[xOff ..]) for every row r. */
    public static void matvec(WeightMatrix w, float[] x, int xOff, float[] y, int yOff) {
        checkLength("x", x.length, xOff, w.cols());
        checkLength("y", y.length, yOff, w.rows());
        int minRows = Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, w.cols()));
        Parallel.forRange(w.rows(), minRows, (from, to) -> {
            for (int r = from; r < to; r++) y[yOff + r] = w.dotRow(r, x, xOff);
        });
    }

    /**
     * For {@code n} tokens: x is [n][cols] row-major, y is [n][rows] row-major. Each thread takes tiles of
     * {@link #ROW_TILE} weight rows; for each slice of {@link #K_BLOCK} columns it dequantizes the tile's slice once
     * (16 KiB of floats, staying in L1) and runs it against every token four at a time ({@link FloatDot#dot4x4}),
     * adding the partial sums into y. Going through the columns slice by slice keeps the tokens' slice (n x
     * K_BLOCK floats) in L2 while all of a thread's tiles use it.
     */
    public static void matmul(WeightMatrix w, float[] x, int n, float[] y) {
        int rows = w.rows(), cols = w.cols();
        checkLength("x", x.length, 0, (long) n * cols);
        checkLength("y", y.length, 0, (long) n * rows);
        if (n == 1) {
            matvec(w, x, 0, y, 0);
            return;
        }
        int tiles = (rows + ROW_TILE - 1) / ROW_TILE;
        long workPerTile = (long) ROW_TILE * cols * n;
        int minTiles = (int) Math.max(1, MIN_ELEMENTS_PER_TASK / Math.max(1, workPerTile));
        Parallel.forRange(tiles, minTiles, (from, to) -> matmulTiles(w, x, n, y, from, to));
    }

    private static void matmulTiles(WeightMatrix w, float[] x, int n, float[] y, int fromTile, int toTile) {
        int rows = w.rows(), cols = w.cols();
        int kBlock = Math.min(cols, K_BLOCK);
        float[] scratch = scratch(ROW_TILE * kBlock + 16);
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

    private static float[] scratch(int size) {
        float[] s = SCRATCH.get();
        if (s.length < size) {
            s = new float[size];
            SCRATCH.set(s);
        }
        return s;
    }

    private static void checkLength(String what, int length, int offset, long needed) {
        if (offset < 0 || offset + needed > length) {
            throw new IllegalArgumentException(what + " has " + length + " elements, needs " + needed + " from offset " + offset);
        }
    }

    private MatMul() {}
}
