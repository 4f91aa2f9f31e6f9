package dev.tiller.kernels;

/**
 * Matrix products with weights read in place: {@code y = W x} for one token (decode) and {@code Y = X W^T} for a
 * batch of tokens (prefill), split across the worker pool by output rows.
 */
public final class MatMul {

    /** y[yOff + r] = dot(W[r], x[xOff ..]) for every row r. */
    public static void matvec(WeightMatrix w, float[] x, int xOff, float[] y, int yOff) {
        Parallel.forRange(w.rows(), 64, (from, to) -> {
            for (int r = from; r < to; r++) y[yOff + r] = w.dotRow(r, x, xOff);
        });
    }

    /**
     * For {@code n} tokens: x is [n][cols] row-major, y is [n][rows] row-major. Each weight row is read once and
     * used for every token.
     */
    public static void matmul(WeightMatrix w, float[] x, int n, float[] y) {
        int rows = w.rows(), cols = w.cols();
        if (n == 1) {
            matvec(w, x, 0, y, 0);
            return;
        }
        Parallel.forRange(rows, 16, (from, to) -> {
            float[] row = new float[cols];
            for (int r = from; r < to; r++) {
                w.dequantizeRow(r, row, 0);
                for (int t = 0; t < n; t++) {
                    float s = 0;
                    int xo = t * cols;
                    for (int i = 0; i < cols; i++) s += row[i] * x[xo + i];
                    y[t * rows + r] = s;
                }
            }
        });
    }

    private MatMul() {}
}
