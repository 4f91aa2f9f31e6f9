package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class Stories260KReferenceTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void promptLogitsMatchLlamaCpp() throws Exception {
        try (GGUFFile f = GGUFFile.open(SHARED.resolve("models/stories260K.gguf"))) {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            Transformer tr = new Transformer(c, ModelWeights.bind(c, f));
            for (String name : new String[]{"once", "tom", "dog"}) {
                JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/stories260K/" + name + ".json").toFile());
                int[] prompt = Reference.ints(ref.get("prompt_tokens"));
                float[] expected = Reference.floats(SHARED.resolve("reference/stories260K/" + name + ".prompt_logits.f32"));
                KVCache cache = new KVCache(c, 256);
                float[] logits = new float[prompt.length * c.vocabSize()];
                tr.forward(prompt, prompt.length, cache, Hooks.NONE, logits, true);
                double maxErr = 0;
                for (int i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - expected[i]));
                System.out.println(name + ": max |logit - llama.cpp| = " + maxErr);
                assertTrue(maxErr <= 3e-2, name + ": max abs error " + maxErr);
            }
        }
    }
}
