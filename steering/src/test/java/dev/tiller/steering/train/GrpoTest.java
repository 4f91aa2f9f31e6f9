package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.loader.GGMLType;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GRPO path: group advantages (zero-variance groups skipped) and the policy-gradient loss, whose gradient must be
 * −mean over sampled tokens of A · ∇ log π_θ(token) — checked against finite differences of that quantity computed
 * here from the forward's logits alone (no use of {@link Losses}).
 */
@Slow
class GrpoTest {

    @Test
    void advantagesAreGroupNormalizedAndFlatGroupsSkipped() {
        assertNull(Trainer.groupAdvantages(new double[]{1, 1, 1, 1}));
        assertNull(Trainer.groupAdvantages(new double[]{0, 0, 0}));
        // rewards 1,0,0,1: mean 0.5, population std 0.5
        assertArrayEquals(new double[]{1, -1, -1, 1}, Trainer.groupAdvantages(new double[]{1, 0, 0, 1}), 1e-12);
        // 3,1,1,1: mean 1.5, std sqrt(0.75)
        double s = Math.sqrt(0.75);
        assertArrayEquals(new double[]{1.5 / s, -0.5 / s, -0.5 / s, -0.5 / s}, Trainer.groupAdvantages(new double[]{3, 1, 1, 1}), 1e-12);
        // centred only: the reward's scale is kept (a 0.01 length difference stays 0.01, not ±1)
        assertArrayEquals(new double[]{0.005, -0.005}, Trainer.groupAdvantages(new double[]{0.99, 0.98}, false), 1e-12);
        assertArrayEquals(new double[]{1, -1}, Trainer.groupAdvantages(new double[]{0.99, 0.98}, true), 1e-12);
        assertNull(Trainer.groupAdvantages(new double[]{2, 2}, false));
    }

    /** −(1/N) Σ_i A_i Σ_t log p(o_it) + β/N Σ k3, N = sampled tokens of the groups given; from raw logits. */
    static double reference(DiffTransformer dt, int[] prompt, int[][] outs, double[] adv, SteeringParams p, double beta) {
        int V = dt.config().vocabSize();
        SteeringParams none = new SteeringParams(p.dim, dt.config().layers(), null, new int[0], 0);
        double sum = 0;
        int n = 0;
        for (int i = 0; i < outs.length; i++) {
            int[] seq = new int[prompt.length + outs[i].length];
            System.arraycopy(prompt, 0, seq, 0, prompt.length);
            System.arraycopy(outs[i], 0, seq, prompt.length, outs[i].length);
            boolean[] want = new boolean[seq.length];
            for (int t = prompt.length - 1; t < seq.length - 1; t++) want[t] = true;
            double[] lg = dt.forward(List.of(new DiffTransformer.Sequence(seq, want)), p, null).logits();
            double[] lr = dt.forward(List.of(new DiffTransformer.Sequence(seq, want)), none, null).logits();
            for (int r = 0; r < outs[i].length; r++) {
                double lp = logp(lg, r, V, outs[i][r]), ref = logp(lr, r, V, outs[i][r]);
                sum += -adv[i] * lp + beta * (Math.exp(ref - lp) - (ref - lp) - 1);
                n++;
            }
        }
        return sum / n;
    }

    static double logp(double[] logits, int row, int V, int tok) {
        double max = Double.NEGATIVE_INFINITY, z = 0;
        for (int i = 0; i < V; i++) max = Math.max(max, logits[row * V + i]);
        for (int i = 0; i < V; i++) z += Math.exp(logits[row * V + i] - max);
        return logits[row * V + tok] - max - Math.log(z);
    }

    @Test
    void policyGradientMatchesFiniteDifferencesAndRaisesGoodSamples() {
        try (var m = TestModels.load(TestModels.synthetic("tiny-llama", GGMLType.F32))) {
            DiffTransformer dt = m.diff();
            var c = dt.config();
            Random rnd = new Random(11);
            int[] layers = new int[c.layers()];
            for (int i = 0; i < layers.length; i++) layers[i] = i;
            SteeringParams p = new SteeringParams(c.dim(), c.layers(), HookSite.RESID_POST, layers, 0);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.2;
            int[] prompt = {1, 5, 9};
            int[][] good = new int[4][], flat = new int[3][];
            for (int i = 0; i < 4; i++) good[i] = randomTokens(rnd, c.vocabSize(), 2 + i);
            for (int i = 0; i < 3; i++) flat[i] = randomTokens(rnd, c.vocabSize(), 3);
            double[] rewards = {1, 0, 0.5, 0};
            double[] adv = Trainer.groupAdvantages(rewards);

            for (double beta : new double[]{0, 0.3}) {
                List<DiffTransformer.Sequence> seqs = new ArrayList<>();
                List<Integer> targets = new ArrayList<>();
                List<Double> weights = new ArrayList<>();
                assertTrue(Trainer.addGroup(seqs, targets, weights, prompt, good, rewards));
                // a group whose samples all earned the same reward adds nothing (and must not change the normalization)
                assertTrue(!Trainer.addGroup(seqs, targets, weights, prompt, flat, new double[]{1, 1, 1}));
                assertEquals(4, seqs.size());
                Trainer.StepData sd = new Trainer.StepData(seqs, targets.stream().mapToInt(Integer::intValue).toArray(),
                        weights.stream().mapToDouble(Double::doubleValue).toArray());
                var pass = dt.forward(seqs, p, null);
                DiffOps.Buf dLogits = dt.ops().zeros(pass.logits().length);
                double loss = Trainer.policyLoss(dt, sd, p, pass, beta, dLogits);
                double[] grad = dt.backward(pass, dLogits, null);
                assertEquals(reference(dt, prompt, good, adv, p, beta), loss, 1e-9, "loss, beta " + beta);
                double gmax = 0;
                for (double g : grad) gmax = Math.max(gmax, Math.abs(g));
                assertTrue(gmax > 0);
                double h = 1e-5, worst = 0;
                for (int k = 0; k < 10; k++) {
                    int i = rnd.nextInt(p.theta.length);
                    double keep = p.theta[i];
                    p.theta[i] = keep + h;
                    double lp = reference(dt, prompt, good, adv, p, beta);
                    p.theta[i] = keep - h;
                    double lm = reference(dt, prompt, good, adv, p, beta);
                    p.theta[i] = keep;
                    double fd = (lp - lm) / (2 * h);
                    worst = Math.max(worst, Math.abs(fd - grad[i]) / Math.max(Math.abs(fd), 1e-3 * gmax));
                }
                assertTrue(worst <= 1e-4, "beta " + beta + ": max relative error " + worst);

                if (beta == 0) {
                    // sign: a small step down the gradient raises Σ A·log p (the best sample gains, the worst loses)
                    double before = -reference(dt, prompt, good, adv, p, 0);
                    double[] keep = p.theta.clone();
                    for (int i = 0; i < grad.length; i++) p.theta[i] -= 1e-3 * grad[i] / gmax;
                    double after = -reference(dt, prompt, good, adv, p, 0);
                    System.arraycopy(keep, 0, p.theta, 0, keep.length);
                    assertTrue(after > before, "the advantage-weighted log-likelihood fell: " + before + " -> " + after);
                }
            }
        }
    }

    static int[] randomTokens(Random rnd, int vocab, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + rnd.nextInt(vocab - 3);
        return t;
    }
}
