package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Random;

import static dev.tiller.kernels.quant.ReferenceDequantizer.half;
import static dev.tiller.kernels.quant.ReferenceDequantizer.u16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Quantize → decode (with the independent {@link ReferenceDequantizer}) round trips, with error bounds derived
 * from each format's step size d, and checks of the stored scales against ggml's definitions.
 *
 * <p>Every bound includes the effect of storing d (and m) as f16: ggml quantizes with the unrounded d, so an
 * element with level q moves by up to |q|·|d - f16(d)| ≤ |q|·2^-11·|d|.
 */
class QuantizerTest {
    private static final double F16_REL = Math.pow(2, -11);

    /** How far f16 storage can move a value: half an ulp, relative for normals, 2^-25 absolute for subnormals. */
    private static double f16Error(double v) {
        return Math.max(F16_REL * Math.abs(v), 0x1p-25);
    }

    private static double[] roundTrip(GGMLType type, float[] x) {
        byte[] q = Quantizer.quantize(type, x);
        assertEquals(type.byteSize(x.length), q.length);
        return ReferenceDequantizer.decode(type, q, 0, x.length).values;
    }

    /** Inputs with varied block scales: Gaussian times a per-32 factor, plus a few outliers. */
    private static float[] testData(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int b = 0; b < n / 32; b++) {
            float s = (float) Math.pow(10, -3 + 4 * rnd.nextDouble());
            for (int j = 0; j < 32; j++) x[32 * b + j] = s * (float) rnd.nextGaussian();
            if (rnd.nextInt(4) == 0) x[32 * b + rnd.nextInt(32)] *= 6;
        }
        return x;
    }

    @Test
    void q8_0StoresAmaxOver127AndErrsAtMostHalfAStep() {
        float[] x = testData(32 * 64, 1);
        byte[] q = Quantizer.quantize(GGMLType.Q8_0, x);
        double[] y = ReferenceDequantizer.decode(GGMLType.Q8_0, q, 0, x.length).values;
        for (int b = 0; b < x.length / 32; b++) {
            double amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
            double d = amax / 127;
            double stored = half(u16(q, 34 * b));
            assertTrue(Math.abs(stored - d) <= f16Error(d), "block " + b + ": d " + stored + " vs amax/127 " + d);
            for (int j = 0; j < 32; j++) {
                double err = Math.abs(y[32 * b + j] - x[32 * b + j]);
                assertTrue(err <= (0.5 * d + 127 * f16Error(d)) * (1 + 1e-6), "block " + b + " element " + j + " error " + err + ", d " + d);
            }
        }
    }

    @Test
    void q4_0MapsTheLargestMagnitudeToMinus8() {
        float[] x = testData(32 * 64, 2);
        byte[] q = Quantizer.quantize(GGMLType.Q4_0, x);
        double[] y = ReferenceDequantizer.decode(GGMLType.Q4_0, q, 0, x.length).values;
        for (int b = 0; b < x.length / 32; b++) {
            double max = 0;
            for (int j = 0; j < 32; j++) if (Math.abs(x[32 * b + j]) > Math.abs(max)) max = x[32 * b + j];
            double d = Math.abs(max) / 8;
            for (int j = 0; j < 32; j++) {
                double err = Math.abs(y[32 * b + j] - x[32 * b + j]);
                boolean isMax = x[32 * b + j] == max;
                // The extreme maps to level -8 exactly; values near -max clamp at +7, so may be off by a full step.
                double bound = isMax ? 8 * f16Error(d) : d + 8 * f16Error(d);
                assertTrue(err <= bound * (1 + 1e-6), "block " + b + " element " + j + " error " + err + ", d " + d);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_1"})
    void minScaleFormatsErrAtMostHalfAStep(GGMLType type) {
        int levels = type == GGMLType.Q4_1 ? 15 : 31;
        float[] x = testData(32 * 64, 3);
        double[] y = roundTrip(type, x);
        for (int b = 0; b < x.length / 32; b++) {
            double min = Double.MAX_VALUE, max = -Double.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                min = Math.min(min, x[32 * b + j]);
                max = Math.max(max, x[32 * b + j]);
            }
            double d = (max - min) / levels;
            double bound = 0.5 * d + levels * f16Error(d) + f16Error(min);
            for (int j = 0; j < 32; j++) {
                double err = Math.abs(y[32 * b + j] - x[32 * b + j]);
                assertTrue(err <= bound * (1 + 1e-6), type + " block " + b + " element " + j + " error " + err + " > " + bound);
            }
        }
    }

    @Test
    void q5_0ErrsAtMostOneStep() {
        float[] x = testData(32 * 64, 4);
        double[] y = roundTrip(GGMLType.Q5_0, x);
        for (int b = 0; b < x.length / 32; b++) {
            double amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]));
            double d = amax / 16;
            for (int j = 0; j < 32; j++) {
                double err = Math.abs(y[32 * b + j] - x[32 * b + j]);
                // half a step, except values near -max that clamp at level +15: a full step
                assertTrue(err <= (d + 16 * f16Error(d)) * (1 + 1e-6), "block " + b + " element " + j + " error " + err);
            }
        }
    }

    /**
     * K-quants have no simple per-element bound (scales are themselves quantized to 6/8 bits), so the test bounds
     * the RMS error relative to the RMS of Gaussian data. A uniform b-bit grid over about ±3σ gives a step of
     * 6σ/2^b and an RMS rounding error of step/√12: ≈ 0.108 (4 bit), 0.054 (5 bit), 0.027 (6 bit). The fitted
     * scales and mins do better than that grid (about 0.072, 0.036, 0.018 overall, in line with llama.cpp's
     * figures), so the per-block bounds below are the grid estimate less 12%.
     */
    @ParameterizedTest
    @EnumSource(names = {"Q4_K", "Q5_K", "Q6_K"})
    void kQuantsRoundTripWithSmallRelativeRmsError(GGMLType type) {
        double bound = switch (type) {
            case Q4_K -> 0.095;
            case Q5_K -> 0.048;
            default -> 0.024;
        };
        Random rnd = new Random(5);
        float[] x = new float[256 * 16];
        for (int b = 0; b < 16; b++) {
            float s = (float) Math.pow(10, -2 + 3 * rnd.nextDouble());
            for (int j = 0; j < 256; j++) x[256 * b + j] = s * (float) rnd.nextGaussian();
        }
        double[] y = roundTrip(type, x);
        for (int b = 0; b < 16; b++) {
            double se = 0, sx = 0;
            for (int j = 0; j < 256; j++) {
                double e = y[256 * b + j] - x[256 * b + j];
                se += e * e;
                sx += (double) x[256 * b + j] * x[256 * b + j];
            }
            double rel = Math.sqrt(se / sx);
            assertTrue(rel <= bound, type + " block " + b + ": relative RMS error " + rel + " > " + bound);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void zerosRoundTripToZeros(GGMLType type) {
        double[] y = roundTrip(type, new float[512]);
        for (double v : y) assertEquals(0.0, v, 0.0, type.toString());
    }

    @ParameterizedTest
    @EnumSource(names = {"Q4_1", "Q5_1", "Q4_K", "Q5_K"})
    void constantBlocksRoundTripClosely(GGMLType type) {
        float[] x = new float[512];
        java.util.Arrays.fill(x, 0.75f);
        double[] y = roundTrip(type, x);
        for (double v : y) assertEquals(0.75, v, 0.75 * 0.02, type.toString());
    }

    @Test
    void f16RoundsToNearestEven() {
        float[] x = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, -65504f, 0x1p-24f, 1e-9f};
        double[] y = roundTrip(GGMLType.F16, x);
        assertEquals(1.0, y[0]);                 // tie → even mantissa
        assertEquals(1.0 + 2 * 0x1p-10, y[1]);   // tie → even mantissa
        assertEquals(-65504.0, y[2]);
        assertEquals(0x1p-24, y[3]);             // smallest subnormal
        assertEquals(0.0, y[4]);
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaN() {
        float[] x = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, Float.NaN, -3.5f};
        double[] y = roundTrip(GGMLType.BF16, x);
        assertEquals(1.0, y[0]);
        assertEquals(1.0 + 0x1p-6, y[1]);
        assertEquals(1.0 + 0x1p-7, y[2]);       // above the tie → up
        assertTrue(Double.isNaN(y[3]));
        assertEquals(-3.5, y[4]);
    }

    @Test
    void f32IsStoredAsIs() {
        float[] x = testData(64, 6);
        double[] y = roundTrip(GGMLType.F32, x);
        for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 0.0);
    }

    @Test
    void unsupportedTargetAndRaggedLengthAreRejected() {
        var e = assertThrows(UnsupportedOperationException.class, () -> Quantizer.quantize(GGMLType.Q2_K, new float[256]));
        assertTrue(e.getMessage().contains("Q2_K"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> Quantizer.quantize(GGMLType.Q8_0, new float[33]));
        assertTrue(e2.getMessage().contains("Q8_0") && e2.getMessage().contains("33"), e2.getMessage());
    }
}
