package dev.tiller.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The element-wise ops with exp/tanh (SwiGLU, GeGLU, softmax) against the same formulas in float64
 * on lengths that leave scalar tails and at offsets, over a wide range of inputs (saturation included).
 */
class VectorOpsTest {
    private static final int[] LENGTHS = {1, 7, 16, 33, 100, 1000};
    /** A few float ulps: VectorOps.exp is within a few ulps, then a divide and multiplies round. */
    private static final double RELATIVE = 4e-7 * 4;

    /**
     * The exp behind SwiGLU, GeGLU and softmax against Math.exp over its whole range (and past it: 0 below -87, e^88
     * above 88),
     * and its vector and scalar forms give the same bits (a row's tail is computed by the scalar one).
     */
    @Test
    void expIsWithinAFewUlpsAndItsTwoFormsAgree() {
        Random rnd = new Random(4);
        int n = 16 * 4096;
        float[] t = new float[n];
        for (int i = 0; i < n; i++) t[i] = (float) (i < n / 2 ? rnd.nextGaussian() * 3 : (rnd.nextDouble() * 2 - 1) * 100);
        t[0] = 0;
        t[1] = -87;
        t[2] = 88;
        t[3] = (float) Math.log(2) / 2;
        var species = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        float[] vec = new float[n];
        for (int i = 0; i + species.length() <= n; i += species.length()) {
            VectorOps.exp(jdk.incubator.vector.FloatVector.fromArray(species, t, i)).intoArray(vec, i);
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float scalar = VectorOps.exp(t[i]);
            assertEquals(Float.floatToRawIntBits(scalar), Float.floatToRawIntBits(vec[i]), "vector and scalar exp of " + t[i]);
            if (t[i] < -87) {
                assertEquals(0f, scalar, 0f, "exp of " + t[i] + " flushes to zero");
                continue;
            }
            double ref = Math.exp(Math.min(t[i], 88));
            worst = Math.max(worst, Math.abs(scalar - ref) / ref);
        }
        assertTrue(worst < 3e-7, "worst relative error " + worst);
        assertEquals(1f, VectorOps.exp(0f), 0f);
        assertEquals(0f, VectorOps.exp(Float.NEGATIVE_INFINITY), 0f);
    }

    @Test
    void siluMulMatchesDefinition() {
        Random rnd = new Random(1);
        for (int n : LENGTHS) {
            float[] gate = new float[n + 3], up = new float[n + 5];
            for (int i = 0; i < gate.length; i++) gate[i] = (float) (rnd.nextGaussian() * (i % 5 == 0 ? 40 : 3));
            for (int i = 0; i < up.length; i++) up[i] = (float) rnd.nextGaussian();
            float[] out = gate.clone();
            VectorOps.siluMul(out, 3, up, 5, n);
            for (int i = 0; i < 3; i++) assertEquals(gate[i], out[i], 0f, "before the range");
            for (int i = 0; i < n; i++) {
                double g = gate[3 + i], ref = g / (1 + Math.exp(-g)) * up[5 + i];
                assertClose(ref, out[3 + i], "silu n=" + n + " i=" + i + " g=" + g);
            }
        }
    }

    @Test
    void geluTanhMulMatchesDefinition() {
        Random rnd = new Random(2);
        double c = Math.sqrt(2 / Math.PI);
        for (int n : LENGTHS) {
            float[] gate = new float[n], up = new float[n];
            for (int i = 0; i < n; i++) {
                gate[i] = (float) (rnd.nextGaussian() * (i % 5 == 0 ? 20 : 2));
                up[i] = (float) rnd.nextGaussian();
            }
            float[] out = gate.clone();
            VectorOps.geluTanhMul(out, 0, up, 0, n);
            for (int i = 0; i < n; i++) {
                double g = gate[i], ref = 0.5 * g * (1 + Math.tanh(c * (g + 0.044715 * g * g * g))) * up[i];
                // near g = -3 and below, 1 + tanh cancels: bound the error by the terms' size, not the result's
                double scale = Math.abs(g * up[i]);
                assertTrue(Math.abs(out[i] - ref) <= 1e-6 * scale + 1e-30, "gelu n=" + n + " i=" + i + " g=" + g + ": " + out[i] + " vs " + ref);
            }
        }
    }

    @Test
    void softmaxMatchesDefinitionAndSumsToOne() {
        Random rnd = new Random(3);
        for (int n : LENGTHS) {
            float[] x = new float[n + 2];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 8);
            if (n > 3) x[2 + n / 2] = Float.NEGATIVE_INFINITY;   // a masked position
            float[] out = x.clone();
            VectorOps.softmax(out, 2, n);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < n; i++) max = Math.max(max, x[2 + i]);
            for (int i = 0; i < n; i++) sum += Math.exp(x[2 + i] - max);
            double total = 0;
            for (int i = 0; i < n; i++) {
                double ref = Math.exp(x[2 + i] - max) / sum;
                assertEquals(ref, out[2 + i], 1e-6 * ref + 1e-12, "softmax n=" + n + " i=" + i);
                total += out[2 + i];
            }
            assertEquals(1.0, total, 1e-5, "sum n=" + n);
        }
    }

    private static void assertClose(double ref, float got, String what) {
        assertTrue(Math.abs(got - ref) <= RELATIVE * Math.abs(ref) + 1e-30, what + ": " + got + " vs " + ref);
    }
}
