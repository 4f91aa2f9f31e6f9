package dev.tiller.engine.model;

import dev.tiller.engine.hooks.Hooks;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Several sequences decoded in one batch give the logits each gives alone. */
class BatchTest {

    @Test
    void batchedDecodeEqualsSeparateRuns() {
        try (GGUFFile f = GGUFFile.open(Shared.DIR.resolve("models/stories260K.gguf"))) {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            Transformer tr = new Transformer(c, ModelWeights.bind(c, f));
            int vocab = c.vocabSize();
            int[][] prompts = {{1, 274, 287, 269}, {1, 291, 376, 400, 428, 286, 399}, {1, 400}};
            int[] next = {301, 296, 13};
            KVCache[] alone = new KVCache[3], together = new KVCache[3];
            float[][] expected = new float[3][vocab];
            for (int s = 0; s < 3; s++) {
                alone[s] = new KVCache(c, 64);
                together[s] = new KVCache(c, 64);
                float[] scratch = new float[vocab];
                tr.forward(prompts[s], prompts[s].length, alone[s], Hooks.NONE, scratch, false);
                tr.forward(prompts[s], prompts[s].length, together[s], Hooks.NONE, scratch, false);
                tr.forward(new int[]{next[s]}, 1, alone[s], Hooks.NONE, expected[s], false);
            }
            Batch b = new Batch(3);
            for (int s = 0; s < 3; s++) b.add(next[s], together[s].length(), together[s], s, true);
            float[] got = new float[3 * vocab];
            tr.forward(b, Hooks.NONE, got);
            for (int s = 0; s < 3; s++) {
                assertEquals(prompts[s].length + 1, together[s].length());
                for (int i = 0; i < vocab; i++) assertEquals(expected[s][i], got[s * vocab + i], 1e-4, "sequence " + s + " logit " + i);
            }
        }
    }

    @Test
    void aGapInPositionsIsRejected() {
        try (GGUFFile f = GGUFFile.open(Shared.DIR.resolve("models/stories260K.gguf"))) {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            Transformer tr = new Transformer(c, ModelWeights.bind(c, f));
            KVCache cache = new KVCache(c, 16);
            Batch b = new Batch(1).add(5, 3, cache, 0, true);
            var e = assertThrows(IllegalArgumentException.class, () -> tr.forward(b, Hooks.NONE, new float[c.vocabSize()]));
            assertTrue(e.getMessage().contains("position 3"), e.getMessage());
        }
    }
}
