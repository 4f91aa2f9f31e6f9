package dev.tiller.kernels.backward;

import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float32 transposed product against a naive float64 loop over the weights' decoded values: token counts below,
 * at and across the 4-token tile and the 32-token block, row counts that are not a multiple of the 4-row tile, widths
 * with a scalar tail, zero coefficients, quantized formats, 1 to 3 threads; dx is added into, not overwritten.
 */
class FloatMatMulTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    @ParameterizedTest
    @CsvSource({"F32, 1, 1, 48, 64", "F32, 4, 2, 48, 64", "F32, 5, 3, 50, 67", "Q8_0, 37, 2, 50, 96", "F32, 70, 3, 7, 9",
            "Q4_K, 9, 2, 6, 256", "F16, 33, 1, 13, 40", "Q4_0, 3, 2, 64, 64"})
    void transposedProductMatchesANaiveLoop(GGMLType type, int n, int threads, int rows, int cols) {
        Parallel.setThreads(threads);
        Random rnd = new Random(n * 131L + rows);
        RandomWeights rw = RandomWeights.of(type, rows, cols, rnd);
        WeightMatrix w = rw.w();
        double[][] W = rw.decoded();
        float[] dy = new float[n * rows], dx = new float[n * cols];
        for (int i = 0; i < dy.length; i++) dy[i] = i % 5 == 0 ? 0 : (float) rnd.nextGaussian();
        for (int i = 0; i < dx.length; i++) dx[i] = (float) rnd.nextGaussian();
        float[] dx0 = dx.clone();
        FloatMatMul.matmulTransposeAdd(w, dy, n, dx);
        double worst = 0, scale = 0;
        for (int tk = 0; tk < n; tk++) {
            for (int c = 0; c < cols; c++) {
                double ref = dx0[tk * cols + c];
                for (int r = 0; r < rows; r++) ref += dy[tk * rows + r] * W[r][c];
                worst = Math.max(worst, Math.abs(ref - dx[tk * cols + c]));
                scale = Math.max(scale, Math.abs(ref));
            }
        }
        assertTrue(worst <= 1e-5 * Math.max(1, scale), type + " n=" + n + " rows=" + rows + " cols=" + cols + ": max error " + worst + " at scale " + scale);
    }
}
