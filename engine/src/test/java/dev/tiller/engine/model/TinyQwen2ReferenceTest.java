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

class TinyQwen2ReferenceTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void lastLogitsMatchLlamaCpp() throws Exception {
        try (GGUFFile f = GGUFFile.open(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            Transformer tr = new Transformer(c, ModelWeights.bind(c, f));
            for (String name : new String[]{"chat_times", "plain_fox"}) {
                JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/tiny-random-qwen2/" + name + ".json").toFile());
                int[] prompt = Reference.ints(ref.get("prompt_tokens"));
                float[] expected = Reference.floats(SHARED.resolve("reference/tiny-random-qwen2/" + name + ".last_logits.f32"));
                KVCache cache = new KVCache(c, 256);
                float[] logits = new float[c.vocabSize()];
                tr.forward(prompt, prompt.length, cache, Hooks.NONE, logits, false);
                double maxErr = 0;
                for (int i = 0; i < logits.length; i++) maxErr = Math.max(maxErr, Math.abs(logits[i] - expected[i]));
                System.out.println(name + ": max |logit - llama.cpp| = " + maxErr);
                assertTrue(maxErr <= 6e-2, name + ": max abs error " + maxErr);
            }
        }
    }
}
