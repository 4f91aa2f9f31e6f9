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
 * Both products against naive float64 loops over the weights' decoded values, with token counts that span several
 * token blocks (and a ragged last one), row counts that are not a multiple of the row tile, widths with a scalar
 * tail, sparse dy rows, and 1 to 3 threads.
 */
class DoubleMatMulTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    @ParameterizedTest
    @CsvSource({"F32, 1, 1, 48, 64", "F32, 77, 3, 48, 64", "Q8_0, 100, 3, 48, 64", "F32, 33, 1, 48, 64",
            // row counts that are not a multiple of the 4-row tile, widths with a scalar tail, odd token counts
            "F32, 3, 2, 50, 67", "F32, 71, 3, 50, 67", "Q8_0, 65, 2, 50, 96", "F32, 2, 1, 5, 9"})
    void productsMatchNaiveLoops(GGMLType type, int n, int threads, int rows, int cols) {
        Parallel.setThreads(threads);
        Random rnd = new Random(n * 31L + threads);
        RandomWeights rw = RandomWeights.of(type, rows, cols, rnd);
        WeightMatrix w = rw.w();
        double[][] W = rw.decoded();
        double[] x = new double[n * cols], dy = new double[n * rows], dx = new double[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextGaussian();
        for (int i = 0; i < dy.length; i++) dy[i] = i % 5 == 0 ? 0 : rnd.nextGaussian();   // some zero coefficients
        for (int i = 0; i < dx.length; i++) dx[i] = rnd.nextGaussian();
        double[] dx0 = dx.clone(), y = new double[n * rows];
        DoubleMatMul.matmul(w, x, n, y);
        DoubleMatMul.matmulTransposeAdd(w, dy, n, dx);
        double worst = 0;
        for (int tk = 0; tk < n; tk++) {
            for (int r = 0; r < rows; r++) {
                double ref = 0;
                for (int c = 0; c < cols; c++) ref += W[r][c] * x[tk * cols + c];
                worst = Math.max(worst, Math.abs(ref - y[tk * rows + r]));
            }
            for (int c = 0; c < cols; c++) {
                double ref = dx0[tk * cols + c];
                for (int r = 0; r < rows; r++) ref += dy[tk * rows + r] * W[r][c];
                worst = Math.max(worst, Math.abs(ref - dx[tk * cols + c]));
            }
        }
        assertTrue(worst < 1e-9, type + " n=" + n + " threads=" + threads + ": max error " + worst);
    }
}
