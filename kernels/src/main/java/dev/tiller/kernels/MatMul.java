package dev.tiller.kernels;

/**
 * Matrix products with weights read in place: {@code y = W x} for one token (decode) and {@code Y = X W^T} for a
 * batch of tokens (prefill), split across the worker pool by output rows.
 */
public final class MatMul {
    /** Rows dequantized together in prefill: each x vector load then feeds this many FMAs. */
    private static final int ROW_TILE = 4;
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
     * For {@code n} tokens: x is [n][cols] row-major, y is [n][rows] row-major. Each weight row is dequantized
     * once (into a per-thread scratch) and used for every token.
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
        Parallel.forRange(tiles, minTiles, (from, to) -> {
            float[] scratch = scratch(ROW_TILE * cols);
            for (int tile = from; tile < to; tile++) {
                int r0 = tile * ROW_TILE;
                int count = Math.min(ROW_TILE, rows - r0);
                for (int k = 0; k < count; k++) w.dequantizeRow(r0 + k, scratch, k * cols);
                if (count == ROW_TILE) {
                    for (int t = 0; t < n; t++) FloatDot.dot4(scratch, cols, x, t * cols, cols, y, t * rows + r0);
                } else {
                    for (int t = 0; t < n; t++) {
                        for (int k = 0; k < count; k++) y[t * rows + r0 + k] = FloatDot.dot(scratch, k * cols, x, t * cols, cols);
                    }
                }
            }
        });
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
