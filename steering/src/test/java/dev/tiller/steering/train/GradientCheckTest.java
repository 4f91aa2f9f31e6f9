package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Analytic gradients of the steering parameters against central finite differences of the same float64 forward pass.
 * The loss mixes every objective's path: cross-entropy on some rows, entropy on others, and a quadratic of the
 * activations at a read point, so a dropped term anywhere in the backward shows up.
 */
class GradientCheckTest {

    /** The loss used for the check: CE on the odd wanted rows, entropy on the even ones, plus Σ c·read. */
    static double loss(DiffTransformer dt, List<DiffTransformer.Sequence> seqs, SteeringParams p, HookPoint read, double[] readCoef,
                       int[] targets, double[][] gradOut) {
        DiffOps ops = dt.ops();
        try (DiffTransformer.Pass pass = dt.forward(seqs, p, read)) {
            int vocab = dt.config().vocabSize(), rows = pass.logitRows();
            DiffOps.Buf dLogits = ops.zeros((long) rows * vocab);
            try {
                double l = 0;
                double[] w = new double[rows];
                for (int r = 0; r < rows; r++) w[r] = r % 2;
                l += Losses.weightedNll(ops, pass.logitsBuffer(), targets, w, rows, vocab, rows, dLogits);
                // half the mean entropy of the even rows: coefficient 0.5 / evens on them, 0 on the odd rows
                int evens = (rows + 1) / 2;
                double[] coef = new double[rows];
                for (int r = 0; r < rows; r += 2) coef[r] = 0.5 / evens;
                double[] h = ops.entropies(pass.logitsBuffer(), rows, vocab, coef, dLogits);
                for (int r = 0; r < rows; r += 2) l += 0.5 * h[r] / evens;
                double[] dRead = null;
                if (read != null) {
                    dRead = new double[pass.readActs.length];
                    for (int i = 0; i < dRead.length; i++) {
                        double a = pass.readActs[i];
                        l += readCoef[i % readCoef.length] * a + 0.01 * a * a;
                        dRead[i] = readCoef[i % readCoef.length] + 0.02 * a;
                    }
                }
                if (gradOut != null) gradOut[0] = dt.backward(pass, dLogits, dRead);
                return l;
            } finally {
                ops.release(dLogits);
            }
        }
    }

    static double maxRelError(DiffTransformer dt, HookSite site, int prefix, HookPoint read, long seed, int coords) {
        return maxRelError(dt, site, prefix, read, seed, coords, 6, 4);
    }

    /** A step's sequences, targets, read-point coefficients and parameters, drawn from {@code rnd} in this order. */
    record Problem(List<DiffTransformer.Sequence> seqs, int[] targets, double[] readCoef, SteeringParams params) {
        static Problem draw(DiffTransformer dt, HookSite site, int prefix, Random rnd, int... lengths) {
            var c = dt.config();
            int[] layers = new int[c.layers()];
            for (int i = 0; i < layers.length; i++) layers[i] = i;
            SteeringParams p = new SteeringParams(c.dim(), c.layers(), site, layers, prefix);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.3;
            List<DiffTransformer.Sequence> seqs = new java.util.ArrayList<>();
            for (int n : lengths) seqs.add(seq(rnd, c.vocabSize(), n));
            int wanted = 0;
            for (var s : seqs) for (boolean b : s.wantLogits()) if (b) wanted++;
            int[] targets = new int[wanted];
            for (int i = 0; i < wanted; i++) targets[i] = rnd.nextInt(c.vocabSize());
            double[] readCoef = new double[c.dim()];
            for (int i = 0; i < readCoef.length; i++) readCoef[i] = rnd.nextGaussian() * 0.1;
            return new Problem(seqs, targets, readCoef, p);
        }
    }

    static double maxRelError(DiffTransformer dt, HookSite site, int prefix, HookPoint read, long seed, int coords, int... lengths) {
        Random rnd = new Random(seed);
        Problem pr = Problem.draw(dt, site, prefix, rnd, lengths);
        SteeringParams p = pr.params();
        List<DiffTransformer.Sequence> seqs = pr.seqs();
        int[] targets = pr.targets();
        double[] readCoef = pr.readCoef();

        double[][] g = new double[1][];
        loss(dt, seqs, p, read, readCoef, targets, g);
        double gmax = 0;
        for (double v : g[0]) gmax = Math.max(gmax, Math.abs(v));
        assertTrue(gmax > 0, "gradient is identically zero");
        double worst = 0;
        double h = 1e-5;
        for (int k = 0; k < coords; k++) {
            int i = rnd.nextInt(p.theta.length);
            double keep = p.theta[i];
            p.theta[i] = keep + h;
            double lp = loss(dt, seqs, p, read, readCoef, targets, null);
            p.theta[i] = keep - h;
            double lm = loss(dt, seqs, p, read, readCoef, targets, null);
            p.theta[i] = keep;
            double fd = (lp - lm) / (2 * h);
            double err = Math.abs(fd - g[0][i]) / Math.max(Math.abs(fd), 1e-3 * gmax);
            worst = Math.max(worst, err);
        }
        return worst;
    }

    static DiffTransformer.Sequence seq(Random rnd, int vocab, int n) {
        int[] t = new int[n];
        boolean[] want = new boolean[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
            want[i] = i >= 1;
        }
        return new DiffTransformer.Sequence(t, want);
    }

    @ParameterizedTest
    @CsvSource({
            "tiny-qwen3, F32, RESID_POST, 2",
            "tiny-qwen2, F32, RESID_MID, 1",
            "tiny-llama, F32, RESID_PRE, 0",
            "tiny-qwen3, F32, ATTN_OUT, 0",
            "tiny-qwen2, F32, MLP_OUT, 0",
            "tiny-llama, F32, EMBED, 2",
            "tiny-qwen3, Q8_0, RESID_POST, 1",
            "tiny-llama, Q4_K, RESID_POST, 1",
            "tiny-gemma2, F32, RESID_POST, 2",
            "tiny-gemma2, F32, ATTN_OUT, 0",
            "tiny-gemma2, Q8_0, MLP_OUT, 1",
            "tiny-gemma2, F32, EMBED, 1"})
    void randomModelsMatchFiniteDifferences(String preset, GGMLType type, HookSite site, int prefix) {
        try (var m = TestModels.load(TestModels.synthetic(preset, type))) {
            HookPoint read = new HookPoint(HookSite.RESID_POST, 0);
            double err = maxRelError(m.diff(), site, prefix, read, preset.hashCode() + site.ordinal(), 12);
            assertTrue(err <= 1e-4, preset + " " + type + " " + site + ": max relative error " + err);
        }
    }

    /**
     * Sequences long enough that attention computes its scores and exponentials in full vector lanes (8 doubles with
     * AVX-512) as well as in the scalar tail: 2 prefix rows + 21 and + 13 tokens.
     */
    @ParameterizedTest
    @CsvSource({"tiny-llama, RESID_POST", "tiny-qwen3, ATTN_OUT", "tiny-gemma2, RESID_MID"})
    void longSequencesMatchFiniteDifferences(String preset, HookSite site) {
        try (var m = TestModels.load(TestModels.synthetic(preset, GGMLType.F32))) {
            double err = maxRelError(m.diff(), site, 2, new HookPoint(HookSite.RESID_POST, 0), 17, 12, 21, 13);
            assertTrue(err <= 1e-4, preset + " " + site + " (long sequences): max relative error " + err);
        }
    }

    @Test
    void stories260KMatchesFiniteDifferences() {
        Path p = TestModels.stories();
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.exists(p), "no " + p);
        try (var m = TestModels.load(p)) {
            double err = maxRelError(m.diff(), HookSite.RESID_POST, 2, new HookPoint(HookSite.RESID_MID, 3), 5, 12);
            assertTrue(err <= 1e-4, "stories260K: max relative error " + err);
        }
    }

    /**
     * Checkpointing (each block's activations dropped after the forward and recomputed from its input in the
     * backward) gives the very same gradient, bit for bit, with the read point read once; the pass holds only the
     * blocks' inputs in between.
     */
    @ParameterizedTest
    @CsvSource({"tiny-qwen3, RESID_MID, 2", "tiny-qwen2, ATTN_OUT, 1", "tiny-llama, RESID_POST, 0", "tiny-gemma2, MLP_OUT, 1"})
    void checkpointingGivesTheSameGradient(String preset, HookSite site, int prefix) {
        try (var m = TestModels.load(TestModels.synthetic(preset, GGMLType.Q8_0))) {
            DiffTransformer dt = m.diff();
            Random rnd = new Random(9);
            var c = dt.config();
            SteeringParams p = new SteeringParams(c.dim(), c.layers(), site, new int[]{0, 1}, prefix);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.3;
            List<DiffTransformer.Sequence> seqs = List.of(seq(rnd, c.vocabSize(), 7), seq(rnd, c.vocabSize(), 5));
            int wanted = 10;
            int[] targets = new int[wanted];
            for (int i = 0; i < wanted; i++) targets[i] = rnd.nextInt(c.vocabSize());
            double[] coef = new double[c.dim()];
            for (int i = 0; i < coef.length; i++) coef[i] = rnd.nextGaussian();
            HookPoint read = new HookPoint(HookSite.RESID_MID, 1);
            double[][] off = new double[1][], on = new double[1][];
            double lOff = loss(dt.checkpointing(DiffTransformer.Checkpointing.OFF), seqs, p, read, coef, targets, off);
            double lOn = loss(dt.checkpointing(DiffTransformer.Checkpointing.ON), seqs, p, read, coef, targets, on);
            assertEquals(lOff, lOn);
            org.junit.jupiter.api.Assertions.assertArrayEquals(off[0], on[0]);
            try (DiffTransformer.Pass pass = dt.forward(seqs, p, read)) {
                for (int l = 0; l < c.layers(); l++) {
                    org.junit.jupiter.api.Assertions.assertNotNull(pass.xPre[l]);
                    org.junit.jupiter.api.Assertions.assertNull(pass.q[l], "block " + l + " kept q after the forward");
                }
            }
            dt.checkpointing(DiffTransformer.Checkpointing.AUTO);
        }
    }

    /**
     * Float32 products with the weights (the default on the CPU, {@link DiffTransformer#of}) give the float64 gradient
     * to 1e-4 of its scale, including a pass with one logits row (the forward product then avoids MatMul's one-token
     * path, whose activations are quantized).
     */
    @ParameterizedTest
    @CsvSource({"tiny-qwen3, Q8_0, RESID_POST, 1, 6", "tiny-llama, Q4_K, ATTN_OUT, 0, 5", "tiny-gemma2, F32, MLP_OUT, 2, 7", "tiny-qwen2, Q8_0, EMBED, 0, 2"})
    void float32ProductsGiveTheFloat64Gradient(String preset, GGMLType type, HookSite site, int prefix, int length) {
        try (var m = TestModels.load(TestModels.synthetic(preset, type))) {
            DiffTransformer exact = m.diff(), mixed = new DiffTransformer(m.config(), m.weights(), new CpuDoubleOps(m.config(), true));
            var c = exact.config();
            Random rnd = new Random(17);
            SteeringParams p = new SteeringParams(c.dim(), c.layers(), site, new int[]{0, c.layers() - 1}, prefix);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.3;
            List<DiffTransformer.Sequence> seqs = List.of(seq(rnd, c.vocabSize(), length));
            int[] targets = new int[length - 1];
            for (int i = 0; i < targets.length; i++) targets[i] = rnd.nextInt(c.vocabSize());
            double[] coef = new double[c.dim()];
            for (int i = 0; i < coef.length; i++) coef[i] = rnd.nextGaussian() * 0.1;
            HookPoint read = new HookPoint(HookSite.RESID_POST, 0);
            double[][] ge = new double[1][], gm = new double[1][];
            double le = loss(exact, seqs, p, read, coef, targets, ge), lm = loss(mixed, seqs, p, read, coef, targets, gm);
            double err = 0, scale = 0;
            for (int i = 0; i < ge[0].length; i++) {
                err = Math.max(err, Math.abs(ge[0][i] - gm[0][i]));
                scale = Math.max(scale, Math.abs(ge[0][i]));
            }
            assertTrue(scale > 0 && err <= 1e-4 * scale, preset + " " + type + ": float32 products move the gradient by " + err + " of " + scale);
            assertEquals(le, lm, 1e-5 * Math.max(1, Math.abs(le)));
        }
    }
}
