package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.KVCache;
import dev.tiller.engine.model.Transformer;
import dev.tiller.loader.GGMLType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float64 training forward with steering applied gives the logits the engine's own forward gives with the same
 * vectors installed as hooks ({@link SteeringParams#install}): what is trained is what generation applies.
 */
class ForwardAgreementTest {

    @ParameterizedTest
    @CsvSource({"tiny-qwen3, F32, RESID_POST, 0", "tiny-qwen2, F32, RESID_MID, 2", "tiny-llama, F32, MLP_OUT, 1", "tiny-qwen3, Q8_0, ATTN_OUT, 1",
            "tiny-gemma2, F32, RESID_POST, 2", "tiny-gemma2, F32, ATTN_OUT, 0"})
    void trainingForwardMatchesEngineWithHooks(String preset, GGMLType type, HookSite site, int prefix) {
        try (var m = TestModels.load(TestModels.synthetic(preset, type))) {
            var c = m.config();
            Random rnd = new Random(9);
            SteeringParams p = new SteeringParams(c.dim(), c.layers(), site, new int[]{c.layers() - 1, 0}, prefix);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.5;
            int[] toks = new int[7];
            boolean[] want = new boolean[7];
            for (int i = 0; i < toks.length; i++) {
                toks[i] = rnd.nextInt(c.vocabSize());
                want[i] = true;
            }
            var pass = m.diff().forward(List.of(new DiffTransformer.Sequence(toks, want)), p, null);

            Transformer engine = new Transformer(c, m.weights());
            Hooks hooks = new Hooks(c.layers());
            p.install(hooks);
            int[] full = p.withPlaceholders(toks);
            float[] logits = new float[full.length * c.vocabSize()];
            engine.forward(full, full.length, new KVCache(c, 64), hooks, logits, true);
            double max = 0, scale = 0;
            int V = c.vocabSize();
            for (int t = 0; t < toks.length; t++) {
                for (int i = 0; i < V; i++) {
                    max = Math.max(max, Math.abs(pass.logits()[t * V + i] - logits[(prefix + t) * V + i]));
                    scale = Math.max(scale, Math.abs(pass.logits()[t * V + i]));
                }
            }
            double tol = type == GGMLType.F32 ? 1e-4 : 2e-2;   // Q8_0's float dot quantizes activations
            assertTrue(scale > 0 && max <= tol * scale, preset + " " + type + ": max diff " + max + " at scale " + scale);
        }
    }
}
