package dev.tiller.steering;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Per-request control vectors in one batch reproduce llama.cpp's steered greedy runs; a vector for another model is an error row. */
class BatchSteeringTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void differentScalesInOneBatchMatchLlamaCpp() throws Exception {
        String vector = SHARED.resolve("reference/stories260K/happy_mean.gguf").toString();
        String[] runs = {"dog", "dog_happy_mean_0.3", "dog_happy_mean_0.6", "dog_happy_mean_-0.6"};
        String[] scales = {null, "0.3", "0.6", "-0.6"};
        List<BatchRequest> reqs = new ArrayList<>();
        List<int[]> expected = new ArrayList<>();
        for (int i = 0; i < runs.length; i++) {
            JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/stories260K/" + runs[i] + ".json").toFile());
            int[] ids = new int[ref.get("greedy_tokens").size()];
            for (int k = 0; k < ids.length; k++) ids[k] = ref.get("greedy_tokens").get(k).asInt();
            expected.add(ids);
            BatchRequest r = BatchRequest.ofPrompt(runs[i], ref.get("prompt").asText()).withMaxTokens(ids.length);
            if (scales[i] != null) r = r.withSteer(List.of(vector + ":" + scales[i]));
            reqs.add(r);
        }
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            List<BatchResult> got = new BatchEngine(m, BatchEngine.Options.defaults(256).withIgnoreEos(true)).runAll(reqs);
            for (int i = 0; i < runs.length; i++) assertArrayEquals(expected.get(i), got.get(i).tokens(), runs[i]);
        }
    }

    /** The same llama.cpp vector saved as a .steer file (same directions, hook_resid_post) reproduces the same runs. */
    @Test
    void steerFilesInBatchRequestsMatchLlamaCpp(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            var cv = dev.tiller.steering.controlvector.ControlVectorFile.read(SHARED.resolve("reference/stories260K/happy_mean.gguf"));
            Path steer = tmp.resolve("happy.steer");
            new dev.tiller.steering.file.SteeringFile(dev.tiller.steering.file.ModelFingerprint.of(m),
                    List.of(SteeringVector.of("happy", dev.tiller.engine.hooks.HookSite.RESID_POST, cv.directions(), "mean")), null).write(steer);
            String[] runs = {"dog_happy_mean_0.3", "dog_happy_mean_-0.6"};
            String[] scales = {"0.3", "-0.6"};
            List<BatchRequest> reqs = new ArrayList<>();
            List<int[]> expected = new ArrayList<>();
            for (int i = 0; i < runs.length; i++) {
                JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/stories260K/" + runs[i] + ".json").toFile());
                int[] ids = new int[ref.get("greedy_tokens").size()];
                for (int k = 0; k < ids.length; k++) ids[k] = ref.get("greedy_tokens").get(k).asInt();
                expected.add(ids);
                reqs.add(BatchRequest.ofPrompt(runs[i], ref.get("prompt").asText()).withMaxTokens(ids.length).withSteer(List.of(steer + ":" + scales[i])));
            }
            List<BatchResult> got = new BatchEngine(m, BatchEngine.Options.defaults(256).withIgnoreEos(true)).runAll(reqs);
            for (int i = 0; i < runs.length; i++) assertArrayEquals(expected.get(i), got.get(i).tokens(), runs[i]);
        }
    }

    @Test
    void aVectorForAnotherModelIsAnErrorResult() {
        String vector = SHARED.resolve("reference/stories260K/happy_mean.gguf").toString();
        try (Model m = Model.load(SHARED.resolve("models/arith-mini.gguf"))) {
            List<BatchResult> got = new BatchEngine(m, BatchEngine.Options.defaults(64)).runAll(List.of(
                    BatchRequest.ofPrompt("bad", "Q: 1+1\nA:").withSteer(List.of(vector + ":0.5")),
                    BatchRequest.ofPrompt("ok", "Q: 1+1\nA:").withMaxTokens(4)));
            assertEquals("error", got.get(0).finishReason());
            assertTrue(got.get(0).error().contains("width 64 but the model's n_embd is 128"), got.get(0).error());
            assertEquals(4, got.get(1).completionTokens());
        }
    }

    /**
     * A .steer file with prefix vectors (and biases) in a batch request: the engine puts the placeholders before the
     * prompt and the EMBED row hook puts the vectors in, whatever the chunking of the prefill; the greedy tokens equal
     * those of a session steered by the same vectors one sequence at a time, next to an unsteered request in the batch.
     */
    @Test
    void prefixVectorsInBatchRequestsMatchTheSession(@org.junit.jupiter.api.io.TempDir Path tmp) {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            var c = m.config();
            var p = new dev.tiller.steering.train.SteeringParams(c.dim(), c.layers(), dev.tiller.engine.hooks.HookSite.RESID_POST, new int[]{2}, 3);
            java.util.Random rnd = new java.util.Random(5);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.8;
            Path steer = tmp.resolve("prefix.steer");
            dev.tiller.steering.train.SteeringStore.save(steer, p, "{}", "{}", m);
            String prompt = "Once upon a time, there was a little dog.";
            var greedy = dev.tiller.engine.generate.GenerationOptions.greedy(16);
            int[] want = dev.tiller.steering.train.SteeredEvaluator.generate(m, p, prompt, greedy).tokens();
            int[] plain = dev.tiller.steering.train.SteeredEvaluator.generate(m, null, prompt, greedy).tokens();
            assertFalse(java.util.Arrays.equals(want, plain), "the vectors change nothing");
            for (int rowsPerStep : new int[]{512, 4}) {
                BatchEngine.Options o = new BatchEngine.Options(4, rowsPerStep, 128, dev.tiller.engine.sampling.SamplerConfig.greedy(), 0, 16, false);
                List<BatchResult> got = new BatchEngine(m, o).runAll(List.of(
                        BatchRequest.ofPrompt("steered", prompt).withSteer(List.of(steer.toString())),
                        BatchRequest.ofPrompt("plain", prompt)));
                assertNull(got.get(0).error());
                assertArrayEquals(want, got.get(0).tokens(), "steered, " + rowsPerStep + " rows per step");
                assertArrayEquals(plain, got.get(1).tokens(), "plain, " + rowsPerStep + " rows per step");
            }
        }
    }
}
