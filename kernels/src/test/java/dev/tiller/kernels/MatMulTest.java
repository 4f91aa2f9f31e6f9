package dev.tiller.kernels;

import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * matmul over n tokens against a float64 product with the weights' own decoded values (read back with
 * {@code dequantizeRow}, whose exactness QuantFormatTest checks against an independent decoder), and against
 * n separate matvec calls. Bound: |y - ref| ≤ 1e-5 · Σ|w·x| per output (float accumulation over ≤ 600 terms).
 */
class MatMulTest {
    private final int savedThreads = Parallel.threads();

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(savedThreads);
    }

    private static WeightMatrix randomMatrix(GGMLType type, int rows, int cols, Random rnd) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
        byte[] bytes = Quantizer.quantize(type, w);
        Tensor t = new Tensor("blk.0.test.weight", type, new long[] {cols, rows}, MemorySegment.ofArray(bytes), "test");
        return new WeightMatrix(t).expect(rows, cols);
    }

    @ParameterizedTest
    @CsvSource({
            "F32, 37, 67, 5, 1", "F32, 37, 67, 5, 3", "F16, 13, 45, 3, 2", "BF16, 9, 33, 2, 2",
            "Q8_0, 37, 96, 5, 3", "Q4_0, 50, 160, 7, 3", "Q4_1, 11, 64, 3, 2", "Q5_0, 11, 64, 4, 2",
            "Q5_1, 11, 64, 4, 2", "Q4_K, 21, 512, 3, 3", "Q5_K, 6, 256, 2, 2", "Q6_K, 23, 512, 4, 3",
            "Q8_0, 300, 128, 9, 3", "Q4_0, 1100, 64, 2, 3",
            // more columns than one prefill column slice (1024): partial sums are added across slices
            "Q8_0, 7, 2336, 6, 2", "Q4_K, 5, 1280, 5, 2", "F16, 9, 1056, 4, 2", "Q6_K, 6, 2048, 8, 2", "F32, 5, 1030, 3, 1"})
    void matmulEqualsReferenceAndMatvec(GGMLType type, int rows, int cols, int n, int threads) {
        Parallel.setThreads(threads);
        Random rnd = new Random(rows * 1000L + cols + n);
        WeightMatrix w = randomMatrix(type, rows, cols, rnd);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();

        float[] y = new float[n * rows];
        MatMul.matmul(w, x, n, y);

        float[] row = new float[cols];
        float[] yv = new float[rows + 2];
        for (int t = 0; t < n; t++) {
            MatMul.matvec(w, x, t * cols, yv, 2);
            for (int r = 0; r < rows; r++) {
                w.dequantizeRow(r, row, 0);
                double exact = 0, scale = 0;
                for (int i = 0; i < cols; i++) {
                    exact += (double) row[i] * x[t * cols + i];
                    scale += Math.abs((double) row[i] * x[t * cols + i]);
                }
                double bound = 1e-5 * scale;
                String where = type + " token " + t + " row " + r;
                assertEquals(exact, y[t * rows + r], bound, where + " (matmul)");
                assertEquals(exact, yv[2 + r], bound, where + " (matvec)");
            }
        }
    }

    @Test
    void singleTokenMatmulIsMatvec() {
        Random rnd = new Random(9);
        WeightMatrix w = randomMatrix(GGMLType.Q4_0, 8, 64, rnd);
        float[] x = new float[64];
        for (int i = 0; i < 64; i++) x[i] = (float) rnd.nextGaussian();
        float[] a = new float[8], b = new float[8];
        MatMul.matmul(w, x, 1, a);
        MatMul.matvec(w, x, 0, b, 0);
        for (int r = 0; r < 8; r++) assertEquals(b[r], a[r], 0.0f);
    }

    @Test
    void unsupportedWeightTypeNamesTensorAndType() {
        Tensor t = new Tensor("blk.7.attn_k.weight", GGMLType.IQ2_XS, new long[] {256, 4},
                MemorySegment.ofArray(new byte[4 * 74]), "model.gguf");
        var e = assertThrows(UnsupportedOperationException.class, () -> new WeightMatrix(t));
        assertTrue(e.getMessage().contains("blk.7.attn_k.weight") && e.getMessage().contains("IQ2_XS"), e.getMessage());
    }

    @Test
    void wrongShapeNamesTensor() {
        WeightMatrix w = randomMatrix(GGMLType.F32, 4, 8, new Random(1));
        var e = assertThrows(ModelFormatException.class, () -> w.expect(8, 4));
        assertTrue(e.getMessage().contains("blk.0.test.weight"), e.getMessage());
    }

    @Test
    void shortActivationIsRejected() {
        WeightMatrix w = randomMatrix(GGMLType.F32, 4, 8, new Random(1));
        assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(w, new float[15], 2, new float[8]));
    }
}
