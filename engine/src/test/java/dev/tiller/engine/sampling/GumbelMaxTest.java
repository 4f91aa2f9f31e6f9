package dev.tiller.engine.sampling;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The Gumbel-max draw samples softmax(z / T): frequencies over many keys, determinism, ties and NaNs. */
class GumbelMaxTest {

    static double[] softmax(float[] z, float invT) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : z) max = Math.max(max, v * invT);
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) sum += p[i] = Math.exp(z[i] * invT - max);
        for (int i = 0; i < z.length; i++) p[i] /= sum;
        return p;
    }

    /** Chi-square of the counts of 60,000 draws against softmax(z / T), at T = 1 and T = 0.5; 5 degrees of freedom. */
    @Test
    void drawsFollowTheSoftmax() {
        float[] z = {1.5f, 0.2f, -1f, 0.9f, 2.1f, -0.3f};
        for (float invT : new float[]{1f, 2f}) {
            double[] p = softmax(z, invT);
            int n = 60_000;
            int[] count = new int[z.length];
            Random keys = new Random(42);
            for (int k = 0; k < n; k++) count[GumbelMax.pick(z, 0, z.length, invT, keys.nextLong())]++;
            double chi2 = 0;
            for (int i = 0; i < z.length; i++) chi2 += Math.pow(count[i] - n * p[i], 2) / (n * p[i]);
            // P(chi2_5 > 20.5) ≈ 0.001
            assertTrue(chi2 < 20.5, "1/T " + invT + ": chi-square " + chi2 + ", counts " + java.util.Arrays.toString(count));
        }
    }

    /** A biased noise would fail the test above; this one checks it would: dropping the noise makes every draw the argmax. */
    @Test
    void theNoiseMatters() {
        float[] z = {0f, 0.1f, 0f};
        int[] count = new int[3];
        for (long k = 0; k < 3000; k++) count[GumbelMax.pick(z, 0, 3, 1f, k)]++;
        for (int c : count) assertTrue(c > 700, java.util.Arrays.toString(count));
    }

    @Test
    void aDrawIsAPureFunctionOfTheRowAndTheKey() {
        float[] z = new float[1000];
        Random r = new Random(1);
        for (int i = 0; i < z.length; i++) z[i] = (float) r.nextGaussian();
        float[] shifted = new float[1500];
        System.arraycopy(z, 0, shifted, 500, 1000);
        for (long key = 0; key < 50; key++) {
            assertEquals(GumbelMax.pick(z, 0, 1000, 1.3f, key), GumbelMax.pick(shifted, 500, 1000, 1.3f, key));
        }
        for (int i = 0; i < 100_000; i++) {
            float g = GumbelMax.noise(7, i);
            assertTrue(Float.isFinite(g), "noise " + i + " = " + g);
        }
    }

    @Test
    void nansAreNeverDrawnAndMinusInfinityNeverBeatsAFiniteLogit() {
        float[] z = {Float.NaN, Float.NEGATIVE_INFINITY, 3f, Float.NaN};
        for (long k = 0; k < 200; k++) assertEquals(2, GumbelMax.pick(z, 0, 4, 1f, k));
        assertEquals(0, GumbelMax.pick(new float[]{Float.NaN, Float.NaN}, 0, 2, 1f, 5));
    }
}
