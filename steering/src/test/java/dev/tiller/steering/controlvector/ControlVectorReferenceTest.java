package dev.tiller.steering.controlvector;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.testsupport.Logits;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** llama.cpp's control vector, applied here, gives llama.cpp's steered logits and greedy tokens. */
class ControlVectorReferenceTest {
    static final Path SHARED = Shared.DIR;
    static final Path REF = SHARED.resolve("reference/stories260K");

    @ParameterizedTest
    @ValueSource(strings = {"0.3", "0.6", "-0.6"})
    void steeredRunMatchesLlamaCpp(String scale) throws Exception {
        JsonNode ref = new ObjectMapper().readTree(REF.resolve("dog_happy_mean_" + scale + ".json").toFile());
        int[] prompt = Reference.ints(ref.get("prompt_tokens"));
        int[] expected = Reference.ints(ref.get("greedy_tokens"));
        float[] expectedLogits = Reference.floats(REF.resolve("dog_happy_mean_" + scale + ".prompt_logits.f32"));
        try (Model model = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            Session s = model.newSession();
            ControlVector cv = ControlVector.sum(List.of(ControlVectorFile.read(REF.resolve("happy_mean.gguf"))), List.of(Float.parseFloat(scale)));
            Hooks hooks = s.installHooks();
            ControlVectorSteering.install(hooks, cv, model.config().dim(), model.config().layers(), 1, model.config().layers() - 1);

            float[] all = s.prefillAllLogits(prompt);
            double maxErr = 0;
            for (int i = 0; i < all.length; i++) maxErr = Math.max(maxErr, Math.abs(all[i] - expectedLogits[i]));
            assertTrue(maxErr <= 3e-2, "prompt logits differ from llama.cpp by " + maxErr);

            int vocab = model.config().vocabSize();
            float[] logits = s.logits();
            for (int i = 0; i < expected.length; i++) {
                int next = Logits.argmax(logits, vocab);
                assertEquals(expected[i], next, "greedy token " + i + " at scale " + scale);
                logits = s.decode(next);
            }
        }
    }

    @Test
    void wrongWidthIsAClearError() {
        try (Model model = Model.load(SHARED.resolve("models/arith-mini.gguf"))) {
            ControlVector cv = ControlVectorFile.read(REF.resolve("happy_mean.gguf"));
            var e = assertThrows(IllegalArgumentException.class,
                    () -> ControlVectorSteering.install(model.newSession().installHooks(), cv, model.config().dim(), model.config().layers(), 1, 3));
            assertTrue(e.getMessage().contains("width 64") && e.getMessage().contains("128"), e.getMessage());
        }
    }

    @Test
    void aModelFileIsNotAControlVector() {
        var e = assertThrows(ModelFormatException.class, () -> ControlVectorFile.read(SHARED.resolve("models/stories260K.gguf")));
        assertTrue(e.getMessage().contains("controlvector"), e.getMessage());
    }
}
