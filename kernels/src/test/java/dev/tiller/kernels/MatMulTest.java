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
            "Q8_0, 7, 2336, 6, 2", "Q4_K, 5, 1280, 5, 2", "F16, 9, 1056, 4, 2", "Q6_K, 6, 2048, 8, 2", "F32, 5, 1030, 3, 1",
            // prompt-sized batches (PackedGemm): full 64-token groups, a narrower last group, padding, odd row counts
            "Q8_0, 37, 96, 16, 3", "Q8_0, 21, 160, 70, 2", "F32, 19, 67, 33, 1", "Q4_K, 13, 512, 130, 3", "Q6_K, 9, 256, 64, 2",
            "F16, 18, 1056, 17, 2", "Q4_0, 35, 2336, 40, 3", "BF16, 5, 96, 128, 1"})
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
        assertClose(b, a);   // the same path; not bit for bit only because the JIT may compile it between the calls
    }

    /**
     * Products sharing one input in one parallel job (q/k/v) equal separate calls, on every path (1 token, a few, a
     * prompt) and with ranges that straddle matrices (unequal row counts, 3 threads). Not bit for bit: a row may
     * fall in a four-row group in one split and not in the other, and code the JIT has not compiled yet sums vector
     * lanes in another order; a mix-up of rows or matrices would be off by O(1).
     */
    @ParameterizedTest
    @CsvSource({"1, 3", "5, 3", "40, 3", "40, 1", "16, 2"})
    void sharedInputProductsEqualSeparateCalls(int n, int threads) {
        Parallel.setThreads(threads);
        Random rnd = new Random(n * 31L + threads);
        int cols = 96;
        WeightMatrix a = randomMatrix(GGMLType.Q8_0, 70, cols, rnd), b = randomMatrix(GGMLType.Q4_0, 9, cols, rnd), c = randomMatrix(GGMLType.F16, 33, cols, rnd);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] ya = new float[n * 70], yb = new float[n * 9], yc = new float[n * 33];
        MatMul.matmul(x, n, a, ya, b, yb, c, yc);
        float[] sa = new float[n * 70], sb = new float[n * 9], sc = new float[n * 33];
        MatMul.matmul(a, x, n, sa);
        MatMul.matmul(b, x, n, sb);
        MatMul.matmul(c, x, n, sc);
        assertClose(sa, ya);
        assertClose(sb, yb);
        assertClose(sc, yc);
        float[] y2a = new float[n * 70], y2c = new float[n * 33];
        MatMul.matmul(x, n, a, y2a, c, y2c);
        assertClose(sa, y2a);
        assertClose(sc, y2c);
    }

    private static void assertClose(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-4f * (1 + Math.abs(expected[i])), "element " + i);
    }

    @Test
    void sharedInputProductsNeedEqualColumns() {
        Random rnd = new Random(2);
        WeightMatrix a = randomMatrix(GGMLType.F32, 4, 8, rnd), b = randomMatrix(GGMLType.F32, 4, 16, rnd);
        var e = assertThrows(IllegalArgumentException.class, () -> MatMul.matmul(new float[16], 2, a, new float[8], b, new float[8]));
        assertTrue(e.getMessage().contains("blk.0.test.weight"), e.getMessage());
    }

    @Test
    void unsupportedWeightTypeNamesTensorAndType() {
        Tensor t = new Tensor("blk.7.attn_k.weight", GGMLType.IQ2_XS, new long[] {256, 4},
                MemorySegment.ofArray(new byte[4 * 74]), "model.gguf");
        var e = assertThrows(UnsupportedOperationException.class, () -> new WeightMatrix(t));
        assertTrue(e.getMessage().contains("blk.7.attn_k.weight") && e.getMessage().contains("IQ2_XS"), e.getMessage());
    }

    /** An F16 infinity would read as a finite number in the fast kernels: the tensor is refused on first use, by name. */
    @Test
    void f16InfinityIsRefusedNamingTensorAndElement() {
        byte[] bytes = new byte[2 * 4 * 64];
        bytes[2 * (2 * 64 + 5) + 1] = (byte) 0xFC;   // row 2, column 5: -inf (0xFC00)
        Tensor t = new Tensor("blk.3.ffn_up.weight", GGMLType.F16, new long[] {64, 4}, MemorySegment.ofArray(bytes), "model.gguf");
        WeightMatrix w = new WeightMatrix(t);
        var e = assertThrows(ModelFormatException.class, () -> MatMul.matvec(w, new float[64], 0, new float[4], 0));
        assertTrue(e.getMessage().contains("blk.3.ffn_up.weight") && e.getMessage().contains("row 2, column 5"), e.getMessage());
        assertThrows(ModelFormatException.class, () -> w.dequantizeRow(0, new float[64], 0));   // every later use too
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
