package dev.tiller.engine.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** End to end, text in and text out, against llama.cpp's greedy runs; and the generation options' contracts. */
class GenerationReferenceTest {
    static final Path SHARED = Shared.DIR;
    static Model stories;

    @BeforeAll
    static void load() {
        stories = Model.load(SHARED.resolve("models/stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        stories.close();
    }

    static JsonNode ref(String path) throws Exception {
        return new ObjectMapper().readTree(SHARED.resolve(path).toFile());
    }

    @ParameterizedTest
    @ValueSource(strings = {"once", "tom", "dog"})
    void storiesGreedyRunMatchesLlamaCpp(String name) throws Exception {
        JsonNode ref = ref("reference/stories260K/" + name + ".json");
        int[] expected = Reference.ints(ref.get("greedy_tokens"));
        List<String> pieces = new ArrayList<>();
        Generation g = new Generator(stories.newSession()).generate(ref.get("prompt").asText(),
                GenerationOptions.greedy(expected.length).withIgnoreEos(true), pieces::add);
        assertArrayEquals(Reference.ints(ref.get("prompt_tokens")), g.promptTokens(), "prompt tokens");
        assertArrayEquals(expected, g.tokens(), "greedy tokens");
        assertEquals(ref.get("greedy_text").asText(), g.text(), "greedy text");
        assertEquals(g.text(), String.join("", pieces), "streamed pieces add up to the text");
        assertEquals("length", g.finishReason());
    }

    @ParameterizedTest
    @ValueSource(strings = {"chat_times", "plain_fox"})
    void qwen2FirstGreedyTokensMatchLlamaCpp(String name) throws Exception {
        JsonNode ref = ref("reference/tiny-random-qwen2/" + name + ".json");
        try (Model qwen = Model.load(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            Generation g = new Generator(qwen.newSession()).generate(ref.get("prompt").asText(),
                    GenerationOptions.greedy(10).withIgnoreEos(true), TokenListener.NONE);
            assertArrayEquals(Reference.ints(ref.get("prompt_tokens")), g.promptTokens(), "prompt tokens (special tokens parsed)");
            int[] expected = java.util.Arrays.copyOf(Reference.ints(ref.get("greedy_tokens")), 10);
            assertArrayEquals(expected, g.tokens(), "first 10 greedy tokens");
        }
    }

    @Test
    void sameSeedSameTextDifferentSeedDifferentText() {
        GenerationOptions opts = GenerationOptions.defaults().withMaxTokens(40)
                .withSampler(SamplerConfig.defaults().withTemperature(1.0f).withSeed(1234));
        String a = new Generator(stories.newSession()).generate("Once upon a time", opts, TokenListener.NONE).text();
        String b = new Generator(stories.newSession()).generate("Once upon a time", opts, TokenListener.NONE).text();
        String c = new Generator(stories.newSession()).generate("Once upon a time",
                opts.withSampler(opts.sampler().withSeed(99)), TokenListener.NONE).text();
        assertEquals(a, b);
        assertNotEquals(a, c);
    }

    @Test
    void stopStringEndsGenerationAndIsNotEmitted() throws Exception {
        // llama.cpp's greedy text for "tom" contains "box"; stopping at it must cut the text just before it
        String full = ref("reference/stories260K/tom.json").get("greedy_text").asText();
        Generation g = new Generator(stories.newSession()).generate("Tom and Sue went to the park",
                GenerationOptions.greedy(60).withStop(List.of("box")), TokenListener.NONE);
        assertEquals("stop", g.finishReason());
        assertEquals(full.substring(0, full.indexOf("box")), g.text());
    }

    @Test
    void endOfSequenceStopsGeneration() {
        Session s = stories.newSession();
        int eos = stories.tokenizer().eosId();
        int promptLen = stories.tokenizer().encode("Once upon", true, true).length;
        // logits at position p choose generated token p - (promptLen - 1): a logits hook makes EOS certain from the 4th on
        s.installHooks().add("logits", acts -> {
            for (int t = 0; t < acts.tokens(); t++) {
                if (acts.position(t) >= promptLen + 2) acts.data()[acts.rowOffset(t) + eos] = 1e9f;
            }
        });
        Generation g = new Generator(s).generate("Once upon", GenerationOptions.defaults().withMaxTokens(50)
                .withSampler(SamplerConfig.defaults().withSeed(5)), TokenListener.NONE);
        assertEquals(promptLen + 3, s.tokens().length, "the prompt and 3 generated tokens were evaluated; EOS was not");
        assertEquals("stop", g.finishReason());
        assertEquals(4, g.tokens().length);
        assertEquals(eos, g.tokens()[3]);
    }

    @Test
    void maxTokensAndContextLimit() {
        Generation g = new Generator(stories.newSession()).generate("Once", GenerationOptions.greedy(7).withIgnoreEos(true), TokenListener.NONE);
        assertEquals(7, g.tokens().length);
        Generation h = new Generator(stories.newSession(12)).generate("Once", GenerationOptions.greedy(100).withIgnoreEos(true), TokenListener.NONE);
        assertEquals("context", h.finishReason());
        var e = assertThrows(IllegalArgumentException.class, () -> new Generator(stories.newSession(3))
                .generate("Once upon a time there was", GenerationOptions.greedy(5), TokenListener.NONE));
        assertTrue(e.getMessage().contains("context size"), e.getMessage());
    }
}
