package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.Batch;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.engine.model.KVCache;
import dev.tiller.engine.sampling.GumbelMax;
import dev.tiller.engine.sampling.Sampler;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Temperature sampling on the device ({@code pick_rows}): each drawn id is the host's {@link GumbelMax#pick} of the
 * same row and key, to the bit; a sampled decode step copies one id per row instead of the row; the draws follow the
 * softmax. Emulator in CI, a real GPU with {@code -Dtiller.cuda=device}.
 */
class CudaSamplingTest {
    static final String UNAVAILABLE = CudaDevice.unavailableReason();
    static final Path STORIES = Shared.DIR.resolve("models/stories260K.gguf");

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    /** pick_rows on random rows (some with NaNs and -inf, widths around the block and Qwen's vocabulary) = the host. */
    @Test
    void devicePicksAreTheHostPicks() {
        CudaDevice dev = CudaDevice.open();
        dev.makeCurrent();
        for (int cols : new int[]{1, 3, 1000, 1025, 151_936}) {
            int rows = cols > 10_000 ? 3 : 8;
            SplittableRandom rnd = new SplittableRandom(cols);
            float[] all = new float[rows * cols], temps = new float[rows];
            long[] keys = new long[rows];
            for (int i = 0; i < all.length; i++) {
                all[i] = (float) rnd.nextGaussian() * 3;
                if (rnd.nextDouble() < 0.01) all[i] = rnd.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY;
            }
            for (int r = 0; r < rows; r++) {
                temps[r] = r % 4 == 3 ? 0f : 0.5f + r * 0.25f;   // every fourth row: the plain argmax
                keys[r] = rnd.nextLong();
            }
            long logits = dev.upload(all), t = dev.upload(temps), k = dev.alloc(8L * rows), out = dev.alloc(4L * rows);
            try {
                dev.copyToDevice(k, keys, rows);
                dev.pickRows(out, logits, t, k, rows, cols);
                int[] ids = new int[rows];
                dev.copyToHost(ids, 0, out, rows);
                for (int r = 0; r < rows; r++) {
                    int want = temps[r] > 0 ? GumbelMax.pick(all, r * cols, cols, temps[r], keys[r]) : Sampler.argmax(all, r * cols, cols);
                    assertEquals(want, ids[r], "row " + r + " of width " + cols + " at 1/T " + temps[r]);
                }
            } finally {
                for (long p : new long[]{logits, t, k, out}) dev.free(p);
            }
        }
    }

    /**
     * A decode step of sampled and greedy rows through the CUDA forward: the ids equal those picked on the host from the
     * same device logits (a logits hook makes the forward copy the rows and pick there), and the step copies 4 bytes per
     * drawn row instead of the row.
     */
    @Test
    void aSampledStepCopiesOneIdPerRow() {
        try (Model gpu = Model.load(STORIES, Device.CUDA)) {
            CudaTransformer ct = (CudaTransformer) gpu.forwardPass();
            assertTrue(ct.picksOnDevice());
            int V = gpu.config().vocabSize();
            int[][] prompts = {{1, 403, 407}, {1, 287, 262, 403}, {1, 329}};
            int[][] ids = new int[2][];
            long[] bytes = new long[2];
            for (int run = 0; run < 2; run++) {
                Hooks hooks = new Hooks(gpu.config().layers());
                if (run == 1) hooks.add(new HookPoint(HookSite.LOGITS, -1), a -> {});   // rows come back: host picks
                Batch b = new Batch(16);
                for (int s = 0; s < prompts.length; s++) {
                    KVCache kv = new KVCache(gpu.config(), 32);
                    for (int p = 0; p < prompts[s].length; p++) b.add(prompts[s][p], p, kv, s, p == prompts[s].length - 1);
                }
                float[] logits = new float[3 * V];
                ids[run] = new int[3];
                long before = ct.deviceToHostBytes();
                ct.forward(b, hooks, logits, V, new boolean[]{false, true, false}, new float[]{1f, 0f, 2f}, new long[]{11, 0, 12}, ids[run]);
                bytes[run] = ct.deviceToHostBytes() - before;
            }
            assertArrayEquals(ids[1], ids[0], "device picks vs host picks of the same logits");
            assertTrue(bytes[0] <= 3 * 4 + 64, "a sampled step copied " + bytes[0] + " bytes");
            assertTrue(bytes[1] >= 3L * V * 4, "the logits hook's step copied " + bytes[1] + " bytes");
        }
    }

    /**
     * Sampled generation through the batch engine on the device: the first drawn token of one prompt over 600 seeds at
     * temperature 1 follows the softmax of the CPU's logits (the five likeliest tokens' frequencies within 4.5 standard
     * deviations), and the run copies ids, not rows.
     */
    @Test
    void batchDrawsFollowTheSoftmax() {
        try (Model cpu = Model.load(STORIES); Model gpu = Model.load(STORIES, Device.CUDA)) {
            String prompt = "Once upon a time";
            float[] z = cpu.newSession().prefill(cpu.tokenizer().encode(prompt, true, true));
            int V = z.length;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : z) max = Math.max(max, v);
            double[] p = new double[V];
            for (int i = 0; i < V; i++) sum += p[i] = Math.exp(z[i] - max);
            for (int i = 0; i < V; i++) p[i] /= sum;
            List<BatchRequest> reqs = new ArrayList<>();
            int n = 600;
            for (int i = 0; i < n; i++) reqs.add(BatchRequest.ofPrompt("r" + i, prompt).withSeed((long) i).withMaxTokens(1));
            BatchEngine.Options o = BatchEngine.Options.defaults(32).withMaxConcurrent(64)
                    .withSampler(new SamplerConfig(1f, 0, 1f, 0f, 1f, 0, 0f, 0f, 0)).withMaxTokens(1);
            CudaTransformer ct = (CudaTransformer) gpu.forwardPass();
            long before = ct.deviceToHostBytes();
            List<BatchResult> res = new BatchEngine(gpu, o).runAll(reqs);
            long copied = ct.deviceToHostBytes() - before;
            int[] count = new int[V];
            for (BatchResult r : res) {
                assertNull(r.error());
                count[r.tokens()[0]]++;
            }
            Integer[] order = new Integer[V];
            for (int i = 0; i < V; i++) order[i] = i;
            java.util.Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
            for (int k = 0; k < 5; k++) {
                int t = order[k];
                double expect = n * p[t], sd = Math.sqrt(n * p[t] * (1 - p[t]));
                assertTrue(Math.abs(count[t] - expect) <= 4.5 * sd + 1, "token " + t + ": " + count[t] + " draws, expected " + expect + " ± " + sd);
            }
            assertTrue(copied < (long) n * 64, "copied " + copied + " bytes for " + n + " one-token draws (rows are " + 4 * V + " bytes)");
        }
    }
}
