package dev.tiller.engine.cuda;

import dev.tiller.engine.sampling.Sampler;
import dev.tiller.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The device argmax ({@code argmax_rows}) gives the host {@link Sampler#argmax}'s answer on every kind of row: random,
 * with ties (lowest index wins), -0.0 next to +0.0, infinities, NaNs anywhere (never chosen) and at index 0 (gives 0),
 * rows of only NaNs or only -inf, and widths around the block's 1,024 threads and of Qwen's vocabulary.
 */
class CudaArgmaxTest {
    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    /** Each row's device argmax equals the host's. */
    static void check(float[][] rows, int cols) {
        CudaDevice dev = CudaDevice.open();
        dev.makeCurrent();
        float[] all = new float[rows.length * cols];
        for (int r = 0; r < rows.length; r++) System.arraycopy(rows[r], 0, all, r * cols, cols);
        long logits = dev.upload(all), out = dev.alloc(4L * rows.length);
        try {
            dev.argmaxRows(out, logits, rows.length, cols);
            int[] ids = new int[rows.length];
            dev.copyToHost(ids, 0, out, rows.length);
            for (int r = 0; r < rows.length; r++) assertEquals(Sampler.argmax(rows[r], cols), ids[r], "row " + r + " of " + cols);
        } finally {
            dev.free(logits);
            dev.free(out);
        }
    }

    static float[][] random(int n, int cols, long seed, float nanRate, int distinctValues) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[][] rows = new float[n][cols];
        for (float[] row : rows) {
            for (int i = 0; i < cols; i++) {
                // few distinct values make ties common, among them the row's maximum
                row[i] = distinctValues > 0 ? rnd.nextInt(distinctValues) - distinctValues / 2f : (float) rnd.nextGaussian() * 4;
                if (rnd.nextDouble() < nanRate) row[i] = Float.NaN;
            }
        }
        return rows;
    }

    @Test
    void randomRowsOfManyWidths() {
        for (int cols : new int[]{1, 2, 31, 32, 33, 1000, 1023, 1024, 1025, 4097}) {
            check(random(5, cols, cols, 0, 0), cols);
            check(random(5, cols, cols + 1, 0, 3), cols);
            check(random(5, cols, cols + 2, 0.3f, 4), cols);
        }
    }

    @Test
    void aQwenSizedBatchOfRows() {
        check(random(3, 151_936, 7, 0.001f, 0), 151_936);
        check(random(2, 151_936, 8, 0, 50), 151_936);
    }

    @Test
    void tiesNansZerosAndInfinities() {
        float nan = Float.NaN, inf = Float.POSITIVE_INFINITY;
        float[][] rows = {
                {nan, 5, 7, 7, 1},       // NaN at 0: 0, as the host's scan never leaves it
                {1, nan, 7, nan, 7},     // NaNs elsewhere never win; the first 7
                {nan, nan, nan, nan, nan},
                {-inf, -inf, -inf, -inf, -inf},
                {-0.0f, 0.0f, -0.0f, 0f, -1},   // -0.0 equals +0.0: index 0
                {-1, 0.0f, -0.0f, 0f, -0.0f},
                {3, inf, 2, inf, nan},
                {-inf, nan, -inf, nan, -5},
                {2, 2, 2, 2, 2},
        };
        check(rows, 5);
        // the winner lies in another thread's (and another warp's) stride than earlier equal values, and a later one
        int cols = 5000;
        float[] row = new float[cols];
        java.util.Arrays.fill(row, -3);
        row[4097] = 9;
        row[1500] = 9;
        row[40] = nan;
        row[2999] = 9;
        check(new float[][]{row}, cols);
    }
}
