package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The row-wise softmax loss kernels of training: log_probs, logprob_grad and entropy_rows. Each is checked against a
 * float64 computation written here from the math (never through the emulator's reference kernels), and the two
 * gradients also against central differences of the float64 losses. The logits have a large spread (N(0, 5^2)) and
 * rows where a softmax without the max subtracted fails, even in double (which the emulator's reference uses): all
 * shifted by +1000 (e^z overflows), one spike of 1000 (p = 1 to float precision), all shifted by -1000 (every e^z
 * underflows to 0). Vocabularies of 1000 and 3 are not multiples of a block's threads. Skipped where there is no CUDA
 * device.
 */
class CudaLossKernelsTest extends DeviceTest {
    /** Row 0 shifted by +1000, row 1 with a spike of 1000, row 2 shifted by -1000, rows 3.. plain; row 3's coef is 0. */
    static final int ROWS = 7, ZERO_COEF_ROW = 3;
    static final float[] COEF = {0.7f, -1.3f, 1.1f, 0f, 2.0f, -0.25f, 0.5f};
    static final double TOL = 1e-5;

    CudaLossKernelsTest() {
        super(20250612);
    }

    // ------------------------------------------------------------------ inputs and helpers

    static int spike(int vocab) {
        return vocab / 2;
    }

    float[] logits(int vocab) {
        float[] z = new float[ROWS * vocab];
        for (int i = 0; i < z.length; i++) z[i] = (float) (5 * rnd.nextGaussian());
        for (int i = 0; i < vocab; i++) {
            z[i] += 1000;
            z[2 * vocab + i] -= 1000;
        }
        z[vocab + spike(vocab)] = 1000;
        return z;
    }

    /** Random targets, except row 1's: its spike (log-probability about 0). */
    int[] targets(int vocab) {
        int[] t = new int[ROWS];
        for (int r = 0; r < ROWS; r++) t[r] = rnd.nextInt(vocab);
        t[1] = spike(vocab);
        return t;
    }

    // ------------------------------------------------------------------ the math, in float64

    /** log softmax of row r of z ([rows][vocab]): z_i - max - log sum_j e^(z_j - max). */
    static double[] logSoftmax(double[] z, int r, int vocab) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int i = 0; i < vocab; i++) max = Math.max(max, z[r * vocab + i]);
        for (int i = 0; i < vocab; i++) sum += Math.exp(z[r * vocab + i] - max);
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) out[i] = z[r * vocab + i] - max - Math.log(sum);
        return out;
    }

    /** H = -sum_i p_i log p_i of row r's softmax. */
    static double entropy(double[] z, int r, int vocab) {
        double[] lp = logSoftmax(z, r, vocab);
        double h = 0;
        for (double l : lp) h -= Math.exp(l) * l;
        return h;
    }

    /** d(log p_t)/dz_i = delta(i == t) - p_i. */
    static double[] logProbGradient(double[] z, int r, int vocab, int t) {
        double[] lp = logSoftmax(z, r, vocab), g = new double[vocab];
        for (int i = 0; i < vocab; i++) g[i] = (i == t ? 1 : 0) - Math.exp(lp[i]);
        return g;
    }

    /** dH/dz_i = -p_i (log p_i + H). */
    static double[] entropyGradient(double[] z, int r, int vocab) {
        double[] lp = logSoftmax(z, r, vocab), g = new double[vocab];
        double h = entropy(z, r, vocab);
        for (int i = 0; i < vocab; i++) g[i] = -Math.exp(lp[i]) * (lp[i] + h);
        return g;
    }

    interface RowLoss {
        double of(double[] z);
    }

    /** Central difference of loss at coordinate at of z. */
    static double centralDifference(RowLoss loss, double[] z, int at) {
        double eps = 1e-5, keep = z[at];
        z[at] = keep + eps;
        double lp = loss.of(z);
        z[at] = keep - eps;
        double lm = loss.of(z);
        z[at] = keep;
        return (lp - lm) / (2 * eps);
    }

    /** The coordinates of row r checked by finite differences: the target, the row's largest, both ends, a random one. */
    int[] probes(float[] z, int r, int vocab, int target) {
        int argmax = 0;
        for (int i = 1; i < vocab; i++) if (z[r * vocab + i] > z[r * vocab + argmax]) argmax = i;
        return new int[]{target, argmax, 0, vocab - 1, rnd.nextInt(vocab)};
    }

    // ------------------------------------------------------------------ log_probs

    @ParameterizedTest
    @ValueSource(ints = {1000, 3})
    void logProbsAreTheLogSoftmaxAtTheTargets(int vocab) {
        float[] z = logits(vocab);
        int[] t = targets(vocab);
        long out = dev.alloc(4L * ROWS);
        dev.logProbs(out, dev.upload(z), uploadInts(t), ROWS, vocab);
        double[] zd = toDouble(z), expected = new double[ROWS];
        for (int r = 0; r < ROWS; r++) expected[r] = logSoftmax(zd, r, vocab)[t[r]];
        float[] actual = download(out, ROWS);
        close(expected, actual, TOL, "log p[target], vocab " + vocab);
        assertEquals(0, actual[1], 1e-6, "the spike of 1000 has p = 1");
    }

    /** A target outside [0, vocab) gives NaN (no out-of-bounds read); the other rows are unaffected. */
    @Test
    void aTargetOutsideTheVocabularyGivesNaN() {
        int vocab = 10;
        float[] z = logits(vocab);
        int[] t = targets(vocab);
        t[4] = -1;
        t[5] = vocab;
        long out = dev.alloc(4L * ROWS);
        dev.logProbs(out, dev.upload(z), uploadInts(t), ROWS, vocab);
        float[] actual = download(out, ROWS);
        for (int r = 0; r < ROWS; r++) assertEquals(r == 4 || r == 5, Float.isNaN(actual[r]), "row " + r + ": " + actual[r]);
    }

    // ------------------------------------------------------------------ logprob_grad

    /**
     * dLogits (non-zero at first) gains coef[r] * (one-hot(target) - softmax) in every row but the one whose coef is 0,
     * which stays bit for bit as it was even though its logits are NaN (the row is skipped, not multiplied by 0); the
     * added gradient equals central differences of coef[r] * log p_r[target] for a few coordinates of each row.
     */
    @ParameterizedTest
    @ValueSource(ints = {1000, 3})
    void logProbGradientAddsCoefTimesOneHotMinusSoftmax(int vocab) {
        float[] z = logits(vocab), g0 = random(ROWS * vocab);
        for (int i = 0; i < vocab; i++) z[ZERO_COEF_ROW * vocab + i] = Float.NaN;
        int[] t = targets(vocab);
        long g = dev.upload(g0);
        dev.addLogProbGradient(g, dev.upload(z), uploadInts(t), dev.upload(COEF), ROWS, vocab);
        float[] actual = download(g, ROWS * vocab);

        double[] zd = toDouble(z), expected = toDouble(g0);
        for (int r = 0; r < ROWS; r++) {
            if (r == ZERO_COEF_ROW) continue;
            double[] d = logProbGradient(zd, r, vocab, t[r]);
            for (int i = 0; i < vocab; i++) expected[r * vocab + i] += COEF[r] * d[i];
        }
        close(expected, actual, TOL, "dLogits = initial + coef (onehot - p), vocab " + vocab);
        for (int i = 0; i < vocab; i++) {
            int at = ZERO_COEF_ROW * vocab + i;
            assertEquals(Float.floatToRawIntBits(g0[at]), Float.floatToRawIntBits(actual[at]), "coef 0: row untouched [" + i + "]");
        }

        for (int r = 0; r < ROWS; r++) {
            if (r == ZERO_COEF_ROW) continue;
            int row = r, target = t[r];
            double[] formula = logProbGradient(zd, r, vocab, target);
            for (int i : probes(z, r, vocab, target)) {
                double num = centralDifference(x -> COEF[row] * logSoftmax(x, row, vocab)[target], zd, r * vocab + i);
                String at = "row " + r + " [" + i + "], vocab " + vocab;
                assertEquals(num, COEF[r] * formula[i], 1e-7 * Math.max(1, Math.abs(num)), "formula vs finite differences " + at);
                assertEquals(num, actual[r * vocab + i] - g0[r * vocab + i], TOL * Math.max(1, Math.abs(num)), "kernel vs finite differences " + at);
            }
        }
    }

    // ------------------------------------------------------------------ entropy_rows

    /**
     * out = the float64 entropy of each row; dLogits (non-zero at first) gains coef[r] * dH/dz in every row but the one
     * whose coef is 0 (left bit for bit; its logits are not NaN here, since its entropy is still computed), and the
     * added gradient equals central differences of coef[r] * H_r.
     */
    @ParameterizedTest
    @ValueSource(ints = {1000, 3})
    void entropiesAndTheirGradient(int vocab) {
        float[] z = logits(vocab), g0 = random(ROWS * vocab);
        long g = dev.upload(g0), out = dev.alloc(4L * ROWS);
        dev.entropies(out, g, dev.upload(z), dev.upload(COEF), ROWS, vocab);
        float[] h = download(out, ROWS), actual = download(g, ROWS * vocab);

        double[] zd = toDouble(z), expectedH = new double[ROWS], expected = toDouble(g0);
        for (int r = 0; r < ROWS; r++) {
            expectedH[r] = entropy(zd, r, vocab);
            if (r == ZERO_COEF_ROW) continue;
            double[] d = entropyGradient(zd, r, vocab);
            for (int i = 0; i < vocab; i++) expected[r * vocab + i] += COEF[r] * d[i];
        }
        close(expectedH, h, TOL, "entropy, vocab " + vocab);
        assertTrue((vocab < 1000 || expectedH[3] > 0.5) && expectedH[1] < 1e-6,
                "a plain row of 1000 logits spreads its probability, the spike's row does not: " + expectedH[3] + ", " + expectedH[1]);
        close(expected, actual, TOL, "dLogits = initial + coef dH/dz, vocab " + vocab);
        for (int i = 0; i < vocab; i++) {
            int at = ZERO_COEF_ROW * vocab + i;
            assertEquals(Float.floatToRawIntBits(g0[at]), Float.floatToRawIntBits(actual[at]), "coef 0: row untouched [" + i + "]");
        }

        for (int r = 0; r < ROWS; r++) {
            if (r == ZERO_COEF_ROW) continue;
            int row = r;
            double[] formula = entropyGradient(zd, r, vocab);
            for (int i : probes(z, r, vocab, rnd.nextInt(vocab))) {
                double num = centralDifference(x -> COEF[row] * entropy(x, row, vocab), zd, r * vocab + i);
                String at = "row " + r + " [" + i + "], vocab " + vocab;
                assertEquals(num, COEF[r] * formula[i], 1e-7 * Math.max(1, Math.abs(num)), "formula vs finite differences " + at);
                assertEquals(num, actual[r * vocab + i] - g0[r * vocab + i], TOL * Math.max(1, Math.abs(num)), "kernel vs finite differences " + at);
            }
        }
    }

    /** With dLogits 0 only out is written, and coef (0 here) is not read. */
    @Test
    void entropiesWithoutAGradientReadNoCoef() {
        int vocab = 1000;
        float[] z = logits(vocab);
        long out = dev.alloc(4L * ROWS);
        dev.entropies(out, 0, dev.upload(z), 0, ROWS, vocab);
        double[] zd = toDouble(z), expected = new double[ROWS];
        for (int r = 0; r < ROWS; r++) expected[r] = entropy(zd, r, vocab);
        close(expected, download(out, ROWS), TOL, "entropy only");
    }

    /** No rows: nothing is launched (a launch of 0 blocks would fail), so even null pointers are fine. */
    @Test
    void noRowsLaunchNothing() {
        dev.logProbs(0, 0, 0, 0, 1000);
        dev.addLogProbGradient(0, 0, 0, 0, 0, 1000);
        dev.entropies(0, 0, 0, 0, 0, 1000);
        dev.entropies(0, 0, 0, 0, -1, 1000);
    }
}
