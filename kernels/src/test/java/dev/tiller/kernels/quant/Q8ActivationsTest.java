package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The integer Q8_0 x Q8 dot against a float64 dot of the weights (decoded by the test's own ReferenceDequantizer)
 * with the unquantized activations. Bound: activation rounding Σ_b (max|x_b|/254)·Σ_{i∈b}|w_i| plus float
 * accumulation 1e-5·Σ|w·x|.
 */
class Q8ActivationsTest {
    @Test
    void quantizedActivationsAreWithinHalfAStep() {
        Random rnd = new Random(5);
        float[] x = new float[96 + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3);
        Q8Activations a = new Q8Activations().quantize(x, 3, 96);
        for (int b = 0; b < 3; b++) {
            double amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[3 + 32 * b + i]));
            for (int i = 0; i < 32; i++) {
                int e = 32 * b + i;
                assertEquals(x[3 + e], a.value(e), amax / 254 * 1.001 + 1e-7, "element " + e);
            }
        }
    }

    @Test
    void integerDotMatchesFloat64() {
        Random rnd = new Random(11);
        Q8Activations a = new Q8Activations();
        for (int n : new int[]{32, 64, 896, 4864}) {
            for (int rep = 0; rep < 5; rep++) {
                float[] w = new float[n], x = new float[n];
                for (int i = 0; i < n; i++) {
                    w[i] = (float) rnd.nextGaussian();
                    x[i] = (float) (rnd.nextGaussian() * (rep + 1));
                }
                if (rep == 4) java.util.Arrays.fill(x, 0, Math.min(n, 64), 0f); // all-zero blocks
                byte[] bytes = Quantizer.quantize(GGMLType.Q8_0, w);
                byte[] padded = new byte[bytes.length + 5];
                System.arraycopy(bytes, 0, padded, 5, bytes.length);
                ReferenceDequantizer ref = ReferenceDequantizer.decode(GGMLType.Q8_0, padded, 5, n);
                double exact = 0, scale = 0, actErr = 0;
                for (int b = 0; b < n / 32; b++) {
                    double amax = 0, wsum = 0;
                    for (int i = 32 * b; i < 32 * b + 32; i++) {
                        exact += ref.values[i] * x[i];
                        scale += Math.abs(ref.values[i] * x[i]);
                        amax = Math.max(amax, Math.abs(x[i]));
                        wsum += Math.abs(ref.values[i]);
                    }
                    actErr += amax / 254 * wsum;
                }
                float got = a.quantize(x, 0, n).dotQ8_0(MemorySegment.ofArray(padded), 5);
                double bound = actErr * 1.001 + 1e-5 * scale + 1e-6;
                assertEquals(exact, got, bound, "n " + n + " rep " + rep);
                assertTrue(Math.abs(exact - got) <= bound);
            }
        }
    }
}
