package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.engine.generate.TokenListener;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Greedy generation on the GPU picks each token with the device argmax and copies back only its id: the tokens equal
 * the CPU's with graphs on and off and with the device argmax on and off, a greedy decode step copies 4 bytes from the
 * device instead of the logits row, and a {@code logits} hook brings the row back to the host (and the CPU's tokens).
 */
class CudaGreedyDecodeTest {
    static final Path SHARED = Shared.DIR;
    static final int[] ONCE = {1, 403, 407, 287, 262, 403, 329, 426, 378, 308, 377, 306, 267};
    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    static int[] generate(Model m, int[] prompt, int n) {
        try (Session s = m.newSession()) {
            return generate(s, prompt, n);
        }
    }

    static int[] generate(Session s, int[] prompt, int n) {
        Generation g = new Generator(s).generate(prompt, GenerationOptions.greedy(n).withIgnoreEos(true), TokenListener.NONE);
        assertEquals(n, g.tokens().length);
        return g.tokens();
    }

    /** Loads the model for CUDA with these switches (they are read when the forward pass is built). */
    static Model loadCuda(Path model, boolean graphs, boolean deviceArgmax) {
        System.setProperty("tiller.cuda.graphs", String.valueOf(graphs));
        System.setProperty("tiller.cuda.deviceArgmax", String.valueOf(deviceArgmax));
        try {
            return Model.load(model, Device.CUDA);
        } finally {
            System.clearProperty("tiller.cuda.graphs");
            System.clearProperty("tiller.cuda.deviceArgmax");
        }
    }

    @ParameterizedTest(name = "{0}, graphs {1}, device argmax {2}")
    @CsvSource({
            "models/stories260K.gguf, true, true", "models/stories260K.gguf, false, true", "models/stories260K.gguf, true, false",
            "models/tiny-random-qwen2.gguf, true, true", "models/tiny-random-qwen2.gguf, false, false"})
    void greedyTokensEqualTheCpusAndOnlyIdsCrossOnTheGreedyPath(String model, boolean graphs, boolean deviceArgmax) {
        Path m = SHARED.resolve(model);
        int n = 24;
        try (Model cpu = Model.load(m); Model gpu = loadCuda(m, graphs, deviceArgmax)) {
            var pass = (CudaTransformer) gpu.forwardPass();
            int vocab = gpu.config().vocabSize();
            int[] prompt = model.contains("qwen") ? new int[]{9707, 11, 1246, 525, 498, 30, 358, 1079} : ONCE;
            int[] expected = generate(cpu, prompt, n);
            long before = pass.deviceToHostBytes(), replays = pass.graphReplays();
            assertArrayEquals(expected, generate(gpu, prompt, n));
            long copied = pass.deviceToHostBytes() - before;
            // the prompt's last row comes back whole (prefill); then n - 1 decode steps
            long perStep = deviceArgmax ? Integer.BYTES : 4L * vocab;
            assertEquals(4L * vocab + (n - 1) * perStep, copied, "bytes copied device to host");
            if (graphs) assertTrue(pass.graphReplays() - replays >= n - 4, "greedy steps replay a graph with the argmax in it");
            else assertEquals(replays, pass.graphReplays());
        }
    }

    /** A logits hook needs the rows on the host: each step copies the row, and the tokens are still the CPU's. */
    @Test
    void aLogitsHookBringsTheRowBackAndKeepsTheCpusTokens() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        int n = 16;
        try (Model cpu = Model.load(m); Model gpu = loadCuda(m, true, true)) {
            var pass = (CudaTransformer) gpu.forwardPass();
            int vocab = gpu.config().vocabSize();
            int[][] out = new int[2][];
            int i = 0;
            for (Model model : new Model[]{cpu, gpu}) {
                try (Session s = model.newSession()) {
                    // pushes token 300 up: a visible change to the greedy choice, made on the host copy
                    s.installHooks().add("logits", acts -> {
                        for (int t = 0; t < acts.tokens(); t++) acts.data()[acts.rowOffset(t) + 300] += 4f;
                    });
                    long before = pass.deviceToHostBytes();
                    out[i++] = generate(s, ONCE, n);
                    if (model == gpu) assertEquals(4L * vocab * n, pass.deviceToHostBytes() - before, "every row came back");
                }
            }
            assertArrayEquals(out[0], out[1]);
            assertNotEquals(-1, java.util.Arrays.stream(out[0]).filter(t -> t == 300).findFirst().orElse(-1), "the hook changed the choice");
        }
    }

    /**
     * The batch engine marks each row: a batch of greedy requests copies one id per generated token and no row; a
     * sampled request in the batch gets its whole row each step. Every request's tokens equal the CPU batch's.
     */
    @Test
    void aGreedyBatchCopiesOnlyIdsAndASampledRowStillComesBack() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        String[] prompts = {"Once upon a time", "Tom and Lily", "The sun was"};
        try (Model cpu = Model.load(m); Model gpu = loadCuda(m, true, true)) {
            var pass = (CudaTransformer) gpu.forwardPass();
            long vocab = gpu.config().vocabSize();
            for (boolean mixed : new boolean[]{false, true}) {
                List<BatchRequest> reqs = new java.util.ArrayList<>();
                for (int i = 0; i < prompts.length; i++) {
                    BatchRequest r = BatchRequest.ofPrompt("r" + i, prompts[i]).withMaxTokens(10 + 2 * i);
                    reqs.add(mixed && i == 1 ? r.withTemperature(0.8f).withSeed(5L) : r.withTemperature(0f));
                }
                BatchEngine.Options o = BatchEngine.Options.defaults(128).withMaxConcurrent(3).withIgnoreEos(true);
                List<BatchResult> want = new BatchEngine(cpu, o).runAll(reqs);
                long before = pass.deviceToHostBytes();
                List<BatchResult> got = new BatchEngine(gpu, o).runAll(reqs);
                long copied = pass.deviceToHostBytes() - before, generated = 0, sampled = 0;
                for (int i = 0; i < reqs.size(); i++) {
                    assertArrayEquals(want.get(i).tokens(), got.get(i).tokens(), "request " + i + (mixed ? ", mixed batch" : ""));
                    generated += got.get(i).tokens().length;
                    if (mixed && i == 1) sampled = got.get(i).tokens().length;
                }
                if (!mixed) {
                    assertEquals(4 * generated, copied, "a greedy batch copies one id per token");
                } else { // the sampled row every step, plus at most one id per row of a step that has greedy rows
                    assertTrue(copied >= 4 * vocab * sampled && copied <= 4 * vocab * sampled + 4 * generated, "copied " + copied);
                }
            }
        }
    }
}
