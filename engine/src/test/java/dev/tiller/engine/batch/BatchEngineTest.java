package dev.tiller.engine.batch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.engine.generate.TokenListener;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Continuous batching gives every request what it gets alone: greedy ids, sampled ids, steering. */
class BatchEngineTest {
    static final Path SHARED = Shared.DIR;
    static Model stories;

    static final String[] PROMPTS = {"Once upon a time", "The little dog was very sad because", "Tom and Lily", "One day",
            "She wanted to", "The sun was", "A big red ball", "Mom said"};

    @BeforeAll
    static void load() {
        stories = Model.load(SHARED.resolve("models/stories260K.gguf"));
    }

    @AfterAll
    static void close() {
        stories.close();
    }

    @Test
    void batchedGreedyMatchesLlamaCpp() throws Exception {
        List<BatchRequest> reqs = new ArrayList<>();
        List<int[]> expected = new ArrayList<>();
        for (String name : new String[]{"once", "tom", "dog"}) {
            JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/stories260K/" + name + ".json").toFile());
            expected.add(Reference.ints(ref.get("greedy_tokens")));
            reqs.add(BatchRequest.ofPrompt(name, ref.get("prompt").asText()).withMaxTokens(expected.getLast().length));
        }
        BatchEngine e = new BatchEngine(stories, BatchEngine.Options.defaults(256).withIgnoreEos(true));
        List<BatchResult> got = e.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) assertArrayEquals(expected.get(i), got.get(i).tokens(), reqs.get(i).id());
    }

    /** Greedy and seeded sampling, many more requests than slots, different lengths: equal to one-at-a-time runs. */
    @Test
    void batchedEqualsOneAtATime() {
        List<BatchRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            BatchRequest r = BatchRequest.ofPrompt("r" + i, PROMPTS[i % PROMPTS.length]).withMaxTokens(8 + 5 * (i % 4));
            if (i % 3 == 2) r = r.withTemperature(0.9f).withSeed(100L + i);
            else r = r.withTemperature(0f);
            if (i == 5) r = r.withStop(List.of("."));
            reqs.add(r);
        }
        for (int parallel : new int[]{1, 5}) {
            BatchEngine.Options o = new BatchEngine.Options(parallel, 7, 256, SamplerConfig.defaults(), 0, 64, false);
            List<BatchResult> got = new BatchEngine(stories, o).runAll(reqs);
            for (int i = 0; i < reqs.size(); i++) {
                BatchRequest r = reqs.get(i);
                GenerationOptions go = GenerationOptions.defaults().withMaxTokens(r.maxTokens()).withStop(r.stop())
                        .withSampler(SamplerConfig.defaults().withTemperature(r.temperature()).withSeed(r.seed() == null ? 0 : r.seed()));
                Generation g = new Generator(stories.newSession(256)).generate(r.prompt(), go, TokenListener.NONE);
                assertArrayEquals(g.tokens(), got.get(i).tokens(), "parallel " + parallel + " request " + r.id());
                assertEquals(g.text(), got.get(i).text(), r.id());
                assertEquals(g.finishReason(), got.get(i).finishReason(), r.id());
                assertEquals(g.promptTokens().length, got.get(i).promptTokens());
            }
        }
    }

    /** A logits processor changes a request's output the same way batched as in {@link Generator} alone. */
    @Test
    void processorsActTheSameBatchedAndAlone() {
        List<BatchRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 4; i++) reqs.add(BatchRequest.ofPrompt("p" + i, PROMPTS[i]).withMaxTokens(12).withTemperature(0f));
        BatchEngine e = new BatchEngine(stories, BatchEngine.Options.defaults(256).withMaxConcurrent(3));
        Map<String, Integer> banned = new java.util.HashMap<>();
        for (BatchRequest r : reqs) {
            int[] plain = new Generator(stories.newSession(256)).generate(r.prompt(), GenerationOptions.greedy(12), TokenListener.NONE).tokens();
            banned.put(r.id(), plain[0]); // the greedy first token, so the ban must change the output
        }
        e.withProcessors(r -> List.of(ban(banned.get(r.id()))));
        List<BatchResult> got = e.runAll(reqs);
        for (int i = 0; i < reqs.size(); i++) {
            BatchRequest r = reqs.get(i);
            int b = banned.get(r.id());
            int[] prompt = stories.tokenizer().encode(r.prompt(), true, true);
            Generation g = new Generator(stories.newSession(256)).generate(prompt, GenerationOptions.greedy(12), List.of(ban(b)), TokenListener.NONE);
            assertNotEquals(b, g.tokens()[0], r.id());
            for (int t : got.get(i).tokens()) assertNotEquals(b, t, r.id());
            assertArrayEquals(g.tokens(), got.get(i).tokens(), r.id());
            assertEquals(g.text(), got.get(i).text(), r.id());
        }
    }

    static dev.tiller.engine.thinking.LogitsProcessor ban(int token) {
        return (row, offset, vocab, step) -> row[offset + token] = Float.NEGATIVE_INFINITY;
    }

    /** Each request steered its own way inside one batch equals a session steered that way alone. */
    @Test
    void perRequestSteeringEqualsSessionSteering() {
        int dim = stories.config().dim();
        Random rnd = new Random(7);
        float[] dir = new float[dim];
        for (int i = 0; i < dim; i++) dir[i] = (float) rnd.nextGaussian() * 0.5f;
        // a test-only resolver: "vec:S" adds S * dir to blocks 1..3 resid_post
        SteeringResolver resolver = (spec, model) -> {
            if (!spec.startsWith("vec:")) return null;
            float s = Float.parseFloat(spec.substring(4));
            return new RowSteering(Map.of(new HookPoint(HookSite.RESID_POST, 1), List.of(RowSteering.addVector(dir, s)),
                    new HookPoint(HookSite.RESID_POST, 3), List.of(RowSteering.addVector(dir, s))));
        };
        float[] scales = {0f, 2f, -2f, 4f, 0f, -4f};
        List<BatchRequest> reqs = new ArrayList<>();
        for (int i = 0; i < scales.length; i++) {
            BatchRequest r = BatchRequest.ofPrompt("s" + i, PROMPTS[i % 3]).withMaxTokens(20).withTemperature(0f);
            if (scales[i] != 0) r = r.withSteer(List.of("vec:" + scales[i]));
            reqs.add(r);
        }
        List<BatchResult> got = new BatchEngine(stories, BatchEngine.Options.defaults(256).withMaxConcurrent(4)).addResolver(resolver).runAll(reqs);
        boolean anyDiffers = false;
        for (int i = 0; i < scales.length; i++) {
            Session s = stories.newSession(256);
            if (scales[i] != 0) {
                Hooks h = s.installHooks();
                float sc = scales[i];
                for (int layer : new int[]{1, 3}) h.add(new HookPoint(HookSite.RESID_POST, layer), a -> {
                    for (int t = 0; t < a.tokens(); t++) a.addToRow(t, dir, sc);
                });
            }
            Generation g = new Generator(s).generate(reqs.get(i).prompt(), GenerationOptions.greedy(20), TokenListener.NONE);
            assertArrayEquals(g.tokens(), got.get(i).tokens(), "request " + i + " steered at " + scales[i]);
            if (scales[i] != 0 && !java.util.Arrays.equals(g.tokens(), got.get(i % 3).tokens())) anyDiffers = true;
        }
        assertTrue(anyDiffers, "steering changed some output (the test would be vacuous otherwise)");
    }

    @Test
    void badRequestsBecomeErrorResultsAndTheRestRuns() {
        List<BatchRequest> reqs = List.of(
                BatchRequest.ofPrompt("ok", "Once").withMaxTokens(3),
                new BatchRequest("none", null, null, null, null, null, null, null, null, null, null, null, 2),
                BatchRequest.ofPrompt("steer", "Once").withSteer(List.of("nothing-understands-this")),
                BatchRequest.ofPrompt("topp", "Once").withMaxTokens(3).withTemperature(0.5f),
                BatchRequest.ofPrompt("zero", "Once").withMaxTokens(0));
        List<BatchResult> got = new BatchEngine(stories, BatchEngine.Options.defaults(64).withMaxConcurrent(2)).runAll(reqs);
        assertEquals("length", got.get(0).finishReason());
        assertEquals(3, got.get(0).completionTokens());
        assertEquals("error", got.get(1).finishReason());
        assertTrue(got.get(1).error().contains("neither prompt nor messages"), got.get(1).error());
        assertEquals("error", got.get(2).finishReason());
        assertTrue(got.get(2).error().contains("nothing-understands-this"), got.get(2).error());
        assertEquals(3, got.get(3).completionTokens());
        assertEquals(0, got.get(4).completionTokens());
        assertEquals("length", got.get(4).finishReason());
    }

    @Test
    void promptLongerThanContextIsAnErrorResult() {
        List<BatchResult> got = new BatchEngine(stories, BatchEngine.Options.defaults(4)).runAll(
                List.of(BatchRequest.ofPrompt("long", "Once upon a time there was a dog")));
        assertEquals("error", got.getFirst().finishReason());
        assertTrue(got.getFirst().error().contains("context size 4"), got.getFirst().error());
    }
}
