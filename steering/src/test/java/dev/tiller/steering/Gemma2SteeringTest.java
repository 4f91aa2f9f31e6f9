package dev.tiller.steering;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.steering.train.DiffTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Steering a gemma2 model: a steering vector lands where a raw vector add at the same hook points does (which the
 * engine's Gemma2Test checks against a float64 reference); training a gemma2 model steers the engine as trained.
 */
class Gemma2SteeringTest {
    @TempDir
    Path tmp;

    @Test
    void steeringVectorActsAtItsHookPoints() {
        Path p = tmp.resolve("gemma2.gguf");
        SyntheticModel.preset("tiny-gemma2").withSeed(2).writeGguf(p, GGMLType.F32);
        int[] tokens = {1, 40, 41, 42, 43, 44, 45};
        try (Model m = Model.load(p)) {
            int dim = m.config().dim();
            float[] d0 = new float[dim], d2 = new float[dim];
            for (int i = 0; i < dim; i++) {
                d0[i] = (float) Math.cos(i);
                d2[i] = (float) Math.sin(3 * i);
            }
            SteeringVector v = SteeringVector.of("test", HookSite.RESID_POST, Map.of(0, d0, 2, d2), "test");
            Session steered = m.newSession();
            new Steering(m.config()).add(v, 1.5f).install(steered);
            float[] got = steered.prefillAllLogits(tokens);

            Session raw = m.newSession();
            raw.installHooks().add(new HookPoint(HookSite.RESID_POST, 0), new RowVectorAdd(d0, 1.5f))
                    .add(new HookPoint(HookSite.RESID_POST, 2), new RowVectorAdd(d2, 1.5f));
            float[] want = raw.prefillAllLogits(tokens);
            float[] plain = m.newSession().prefillAllLogits(tokens);
            double moved = 0;
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-6f, "logit " + i);
                moved = Math.max(moved, Math.abs(want[i] - plain[i]));
            }
            assertTrue(moved > 1e-3, "steering changed nothing");
        }
    }

    /**
     * Training a gemma2 model on the CPU: CE on one continuation lowers the loss, and the trained vectors,
     * installed as hooks in the engine's own gemma2 forward, make that continuation more likely (what is trained is
     * what generation applies). Gradients are checked against finite differences in GradientCheckTest.
     */
    @Test
    void trainingSteersAGemma2Model() {
        Path p = tmp.resolve("gemma2.gguf");
        SyntheticModel.preset("tiny-gemma2").withSeed(2).writeGguf(p, GGMLType.F32);
        try (Model m = Model.load(p)) {
            int[] prompt = {1, 17, 42, 99, 7}, target = {11, 23, 5};
            try (DiffTransformer dt = DiffTransformer.of(m)) {
                dev.tiller.steering.train.SteeringParams sp = new dev.tiller.steering.train.SteeringParams(m.config().dim(), m.config().layers(),
                        dev.tiller.engine.hooks.HookSite.RESID_POST, new int[]{0, 1, 2}, 0);
                int[] seq = new int[prompt.length + target.length];
                System.arraycopy(prompt, 0, seq, 0, prompt.length);
                System.arraycopy(target, 0, seq, prompt.length, target.length);
                boolean[] want = new boolean[seq.length];
                for (int t = prompt.length - 1; t < seq.length - 1; t++) want[t] = true;
                var seqs = java.util.List.of(new DiffTransformer.Sequence(seq, want));
                var adam = new dev.tiller.steering.train.Adam(sp.size(), 0.1, 0, 0, 0, 30, false);
                double first = Double.NaN, last = Double.NaN;
                for (int step = 0; step < 30; step++) {
                    try (var pass = dt.forward(seqs, sp, null)) {
                        int V = m.config().vocabSize(), rows = pass.logitRows();
                        var d = dt.ops().zeros((long) rows * V);
                        double loss = dev.tiller.steering.train.Losses.weightedNll(dt.ops(), pass.logitsBuffer(), target, null, rows, V, rows, d);
                        if (step == 0) first = loss;
                        last = loss;
                        adam.step(sp.theta, dt.backward(pass, d, null));
                    }
                }
                // the preset's final soft-cap of 0.2 keeps every logit within ±0.2: the loss cannot go below
                // −log(e^0.2 / (e^0.2 + 255 e^−0.2)) ≈ 5.15 from log 256 ≈ 5.55
                assertTrue(last < first - 0.1, "loss " + first + " -> " + last);
                // the engine's gemma2 forward with the vectors as hooks: the target's first token gained probability
                float[] plain = m.newSession().prefill(prompt);
                Session s = m.newSession();
                sp.install(s.installHooks());
                float[] steered = s.prefill(prompt);
                assertTrue(logSoftmaxAt(steered, target[0]) > logSoftmaxAt(plain, target[0]) + 0.02,
                        "steered log p " + logSoftmaxAt(steered, target[0]) + " vs plain " + logSoftmaxAt(plain, target[0]));
                try (var pass = dt.forward(seqs, sp, null)) {
                    double trained = dt.ops().logProbs(pass.logitsBuffer(), 1, m.config().vocabSize(), target)[0];
                    assertEquals(trained, logSoftmaxAt(steered, target[0]), 1e-4, "the training forward and the engine disagree");
                }
            }
        }
    }

    static double logSoftmaxAt(float[] z, int i) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (float v : z) max = Math.max(max, v);
        for (float v : z) sum += Math.exp(v - max);
        return z[i] - max - Math.log(sum);
    }
}
