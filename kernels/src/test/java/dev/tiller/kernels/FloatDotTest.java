package dev.tiller.kernels;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The prefill micro-kernel against float64 sums written here; bound 1e-5 * sum|w*x| (float accumulation). */
class FloatDotTest {
    @Test
    void dot4x4MatchesFloat64() {
        Random rnd = new Random(3);
        for (int n : new int[]{1, 15, 16, 33, 64, 100, 1024}) {
            int wStride = n + 3, xStride = n + 5, xOff = 7;
            float[] w = new float[4 * wStride];
            float[] x = new float[xOff + 4 * xStride];
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] out = new float[20];
            FloatDot.dot4x4(w, wStride, x, xOff, xStride, n, out, 2);
            for (int k = 0; k < 4; k++) {
                for (int j = 0; j < 4; j++) {
                    double exact = 0, scale = 0;
                    for (int i = 0; i < n; i++) {
                        double p = (double) w[k * wStride + i] * x[xOff + j * xStride + i];
                        exact += p;
                        scale += Math.abs(p);
                    }
                    assertEquals(exact, out[2 + 4 * j + k], 1e-5 * scale + 1e-30, "n " + n + " row " + k + " token " + j);
                }
            }
        }
    }
}
