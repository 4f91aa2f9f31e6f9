package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.engine.model.Batch;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Logits;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The GPU forward pass against the CPU one. Skipped, with the reason, where no CUDA device can be used; run on a GPU
 * machine with {@code mvn -B verify} (see docs/gpu.md).
 */
class CudaTransformerTest {
    static final Path SHARED = Shared.DIR;
    static final int[] ONCE = {1, 403, 407, 287, 262, 403, 329, 426, 378, 308, 377, 306, 267};

    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    /** max |a - b| over the first n entries, relative to max(1, max |b|). */
    static double relErr(float[] a, float[] b, int n) {
        double err = 0, scale = 1;
        for (int i = 0; i < n; i++) {
            err = Math.max(err, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(b[i]));
        }
        return err / scale;
    }

    static void comparePrefill(Path model, int[] prompt, double tol) {
        try (Model cpu = Model.load(model); Model gpu = Model.load(model, Device.CUDA)) {
            assertEquals(Device.CUDA, gpu.device());
            float[] a = cpu.newSession().prefillAllLogits(prompt);
            float[] b = gpu.newSession().prefillAllLogits(prompt);
            double err = relErr(b, a, a.length);
            System.err.printf("%s: GPU vs CPU prompt logits, max relative difference %.2e%n", model.getFileName(), err);
            assertTrue(err <= tol, model + ": GPU logits differ from the CPU's by " + err);
        }
    }

    @Test
    void stories260KPromptLogitsMatchTheCpu() {
        comparePrefill(SHARED.resolve("models/stories260K.gguf"), ONCE, 2e-3);
    }

    @Test
    void tinyRandomQwen2PromptLogitsMatchTheCpu() {
        comparePrefill(SHARED.resolve("models/tiny-random-qwen2.gguf"), new int[]{9707, 11, 1246, 525, 498, 30, 358, 1079}, 2e-2);
    }

    @ParameterizedTest
    @ValueSource(strings = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_K"})
    void syntheticQwen3InEachFormatMatchesTheCpu(String type, @TempDir Path tmp) {
        Path f = tmp.resolve("m.gguf");
        SyntheticModel.preset("tiny-qwen3").withSeed(5).writeGguf(f, GGMLType.valueOf(type));
        comparePrefill(f, new int[]{1, 5, 9, 17, 33, 65, 2, 4}, 2e-2);
    }

    /**
     * llama.cpp's Q4_K_M and Q5_K_M mixes on a llama wide enough for whole 256-weight super-blocks (the tiny presets'
     * 64 columns fall back to other types): Q4_K / Q5_K and Q6_K stay quantized on the device (the embedding gathered
     * from its blocks, the untied Q6_K output read by its GEMV), and the prompt logits (cuBLAS over F16 tiles) and every decode
     * step's logits (the K-quant GEMVs, float32 throughout) follow the CPU's, with the same greedy tokens.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(dev.tiller.models.synthetic.QuantMix.class)
    void kQuantMixStaysQuantizedAndMatchesTheCpu(dev.tiller.models.synthetic.QuantMix mix, @TempDir Path tmp) {
        Path f = tmp.resolve("mix.gguf");
        var shape = new dev.tiller.models.synthetic.ModelShape("wide-llama", dev.tiller.models.arch.Architectures.LLAMA, 256, 2, 4, 2, 64, 512,
                384, 512, 10000.0, 1e-5, false, null, null, 1, 2);
        SyntheticModel.of(shape).withSeed(11).writeGguf(f, mix, null);
        int[] prompt = {1, 5, 9, 17, 33, 65, 2, 4, 100, 200};
        comparePrefill(f, prompt, 2e-2);
        try (Model cpu = Model.load(f); Model gpu = Model.load(f, Device.CUDA)) {
            String placed = gpu.describeDevice(), on = "on the device [";
            String formats = placed.substring(placed.indexOf(on) + on.length(), placed.indexOf(']', placed.indexOf(on)));
            // every matrix in its K-quant, none as an F16 copy
            assertEquals(java.util.Set.of(mix.base().name(), "Q6_K"), java.util.Set.of(formats.split(", ")), placed);
            decodeFromEmptyContextMatches(cpu, gpu, prompt, 4, 24);
        }
    }

    /**
     * Widths that are not whole super-blocks (Qwen2.5-0.5B's 896): llama.cpp's Q4_K_M falls back to Q5_0 for most
     * matrices and Q8_0 for Q6_K's, and the device keeps those quantized too (no F16 copy), with decode logits within
     * 1e-4 of the CPU's.
     */
    @Test
    void q4KMFallbackTypesStayQuantizedAndMatchTheCpu(@TempDir Path tmp) {
        Path f = tmp.resolve("narrow.gguf");
        var shape = new dev.tiller.models.synthetic.ModelShape("narrow-llama", dev.tiller.models.arch.Architectures.LLAMA, 320, 2, 5, 1, 64, 640,
                384, 512, 10000.0, 1e-5, false, null, null, 1, 2);
        SyntheticModel.of(shape).withSeed(12).writeGguf(f, dev.tiller.models.synthetic.QuantMix.Q4_K_M, null);
        comparePrefill(f, new int[]{1, 5, 9, 17, 33, 65, 2, 4, 100, 200}, 2e-2);
        try (Model cpu = Model.load(f); Model gpu = Model.load(f, Device.CUDA)) {
            String placed = gpu.describeDevice(), on = "on the device [";
            String formats = placed.substring(placed.indexOf(on) + on.length(), placed.indexOf(']', placed.indexOf(on)));
            assertTrue(formats.contains("Q5_0") && !formats.contains("F16"), placed);
            decodeFromEmptyContextMatches(cpu, gpu, new int[]{1}, 0, 12);
        }
    }

    /**
     * Decodes token by token from an empty context, so that every product is a one-row GEMV in float32: the first
     * {@code forced} + 1 tokens from {@code prompt}, then greedy; each step's logits within 1e-4 of the CPU's, and the
     * same greedy tokens.
     */
    static void decodeFromEmptyContextMatches(Model cpu, Model gpu, int[] prompt, int forced, int steps) {
        Session a = cpu.newSession(), b = gpu.newSession();
        int vocab = cpu.config().vocabSize(), tok = prompt[0];
        for (int i = 0; i < steps; i++) {
            float[] la = a.decode(tok).clone(), lb = b.decode(tok);
            assertTrue(relErr(lb, la, vocab) < 1e-4, "step " + i + ": " + relErr(lb, la, vocab));
            tok = i < forced ? prompt[i + 1] : Logits.argmax(la, vocab);
            if (i >= forced) assertEquals(tok, Logits.argmax(lb, vocab), "greedy token at step " + i);
        }
    }

    @Test
    void llamaNormalRopeMatchesTheCpu(@TempDir Path tmp) {
        Path f = tmp.resolve("l.gguf");
        SyntheticModel.preset("tiny-llama").withSeed(3).writeGguf(f, GGMLType.F32);
        comparePrefill(f, new int[]{1, 5, 9, 17, 33, 65, 2, 4, 8, 16}, 2e-3);
    }

    @Test
    void stories260KGreedyTokensAreIdentical() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            assertArrayEquals(greedy(cpu.newSession(), ONCE, 60), greedy(gpu.newSession(), ONCE, 60));
        }
    }

    /** Decoding past 256 positions takes the split-K attention path: the same greedy tokens and logits as the CPU. */
    @Test
    void deepDecodeWithSplitAttentionMatchesTheCpu() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            int[] prompt = new int[300];
            for (int i = 0; i < prompt.length; i++) prompt[i] = i == 0 ? 1 : 260 + (i * 37) % 240;
            Session a = cpu.newSession(400), b = gpu.newSession(400);
            a.prefill(prompt);
            b.prefill(prompt);
            int vocab = cpu.config().vocabSize(), tok = 403;
            for (int i = 0; i < 40; i++) {
                float[] la = a.decode(tok).clone(), lb = b.decode(tok);
                assertTrue(relErr(lb, la, vocab) < 2e-3, "step " + i + ": " + relErr(lb, la, vocab));
                tok = Logits.argmax(la, vocab);
                assertEquals(tok, Logits.argmax(lb, vocab), "greedy token at step " + i);
            }
        }
    }

    /**
     * Decode steps after the second replay a captured graph: the greedy tokens of a plain run and of a run steered on
     * the device equal the CPU's, graphs were replayed, and a host hook keeps the step out of graphs.
     */
    @Test
    void decodeReplaysACapturedGraphWithTheCpusTokens() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            var pass = (dev.tiller.engine.model.CudaTransformer) gpu.forwardPass();
            assertArrayEquals(greedy(cpu.newSession(), ONCE, 30), greedy(gpu.newSession(), ONCE, 30));
            long plain = pass.graphReplays();
            assertTrue(plain >= 25, "graph replays " + plain);
            float[] dir = new float[cpu.config().dim()];
            for (int i = 0; i < dir.length; i++) dir[i] = (float) Math.cos(i) * 0.4f;
            Session sc = cpu.newSession(), sg = gpu.newSession();
            sc.installHooks().add("blocks.2.hook_resid_post", new RowVectorAdd(dir, 0.8f));
            sg.installHooks().add("blocks.2.hook_resid_post", new RowVectorAdd(dir, 0.8f));
            assertArrayEquals(greedy(sc, ONCE, 30), greedy(sg, ONCE, 30), "steered greedy tokens");
            assertTrue(pass.graphReplays() - plain >= 25, "steered steps replayed a graph");
            long before = pass.graphReplays();
            Session host = gpu.newSession();
            host.installHooks().add("blocks.1.hook_resid_mid", act -> { });
            greedy(host, ONCE, 10);
            assertEquals(before, pass.graphReplays(), "a host hook runs outside graphs");
        }
    }

    /**
     * The fused decode kernels (opt-in until a GPU has run them): greedy tokens and logits of plain and steered decode
     * equal the CPU's on llama (F32) and qwen2 (F16 with biases) models, through prefill, graphs and split attention.
     */
    @ParameterizedTest
    @ValueSource(strings = {"models/stories260K.gguf", "models/tiny-random-qwen2.gguf"})
    void fusedKernelsGiveTheCpusTokens(String model) {
        Path m = SHARED.resolve(model);
        System.setProperty("tiller.cuda.fused", "true");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            System.clearProperty("tiller.cuda.fused");
            int[] prompt = new int[90];
            for (int i = 0; i < prompt.length; i++) prompt[i] = i == 0 ? 1 : 260 + (i * 37) % 240;
            assertArrayEquals(greedy(cpu.newSession(), prompt, 50), greedy(gpu.newSession(), prompt, 50));
            comparePrefillOn(cpu, gpu, prompt, 2e-2);
            float[] dir = new float[cpu.config().dim()];
            for (int i = 0; i < dir.length; i++) dir[i] = (float) Math.sin(3 * i) * 0.3f;
            Session sc = cpu.newSession(), sg = gpu.newSession();
            for (Session s : List.of(sc, sg)) {
                s.installHooks().add("blocks.0.hook_resid_post", new RowVectorAdd(dir, 0.9f));
                s.hooks().add("blocks.1.hook_attn_out", new RowVectorAdd(dir, -0.5f));
            }
            assertArrayEquals(greedy(sc, prompt, 30), greedy(sg, prompt, 30), "steered");
        } finally {
            System.clearProperty("tiller.cuda.fused");
        }
    }

    /**
     * Steering on every block's hook_resid_post, fused kernels on: each block's vector is added by the next block's
     * add_rmsnorm with its residual add (one launch instead of three), and the tokens stay the CPU's. Only the last
     * block, which no norm follows, launches add_row_vector; with the vectors at hook_resid_pre of blocks 1.. as well
     * (a second steering add at the same x), the held one is made before them and each runs as its own launch.
     */
    @Test
    void fusedKernelsAddResidPostSteeringInTheNextNorm() {
        assumeTrue(dev.tiller.kernels.cuda.CudaLibraries.emulatorSelected(), "counts launches (the emulator's)");
        Path m = SHARED.resolve("models/stories260K.gguf");
        System.setProperty("tiller.cuda.fused", "true");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            System.clearProperty("tiller.cuda.fused");
            int layers = cpu.config().layers(), steps = 20;
            float[] dir = new float[cpu.config().dim()];
            for (int i = 0; i < dir.length; i++) dir[i] = (float) Math.cos(5 * i) * 0.4f;
            for (boolean alsoPre : new boolean[]{false, true}) {
                Session sc = cpu.newSession(), sg = gpu.newSession();
                for (Session s : List.of(sc, sg)) {
                    Hooks hooks = s.installHooks();
                    for (int l = 0; l < layers; l++) {
                        hooks.add("blocks." + l + ".hook_resid_post", new RowVectorAdd(dir, 0.7f + 0.1f * l));
                        if (alsoPre && l > 0) s.hooks().add("blocks." + l + ".hook_resid_pre", new RowVectorAdd(dir, -0.2f));
                    }
                }
                long before = dev.tiller.kernels.cuda.emulator.CudaEmulator.launches("add_row_vector");
                assertArrayEquals(greedy(sc, ONCE, steps), greedy(sg, ONCE, steps), "steered tokens, resid_pre too: " + alsoPre);
                long rowVectorAdds = dev.tiller.kernels.cuda.emulator.CudaEmulator.launches("add_row_vector") - before;
                long forwards = steps + 1;   // the prompt, then one per token

                if (alsoPre) assertEquals(forwards * (2L * layers - 1), rowVectorAdds, "every add its own launch");
                else assertEquals(forwards, rowVectorAdds, "only the last block's add is its own launch");
            }
        } finally {
            System.clearProperty("tiller.cuda.fused");
        }
    }

    static void comparePrefillOn(Model cpu, Model gpu, int[] prompt, double tol) {
        float[] a = cpu.newSession().prefillAllLogits(prompt), b = gpu.newSession().prefillAllLogits(prompt);
        assertTrue(relErr(b, a, a.length) <= tol, "prompt logits differ by " + relErr(b, a, a.length));
    }

    /** Weights or a KV cache that do not fit the GPU: an error naming the sizes, not a CUDA error code (emulator: a small GPU). */
    @Test
    void weightsOrCachesThatDoNotFitAreAClearError() {
        assumeTrue(dev.tiller.kernels.cuda.CudaLibraries.emulatorSelected(), "needs the emulator (its memory size can be set)");
        long was = dev.tiller.kernels.cuda.emulator.CudaEmulator.capacity();
        Path m = SHARED.resolve("models/stories260K.gguf");
        try {
            long used = dev.tiller.kernels.cuda.emulator.CudaEmulator.bytesInUse();
            dev.tiller.kernels.cuda.emulator.CudaEmulator.setCapacity(used + (64L << 20));
            var e = assertThrows(IllegalStateException.class, () -> Model.load(m, Device.CUDA).close());
            assertTrue(e.getMessage().contains("weights need") && e.getMessage().contains("MiB free"), e.getMessage());
            dev.tiller.kernels.cuda.emulator.CudaEmulator.setCapacity(used + (400L << 20));
            try (Model gpu = Model.load(m, Device.CUDA)) {
                Session big = gpu.newSession(400_000); // 5 layers x 400k positions x 32 x 2 x 4 bytes = 488 MiB, past what is left
                var e2 = assertThrows(IllegalStateException.class, () -> big.prefill(ONCE));
                assertTrue(e2.getMessage().contains("KV cache") && e2.getMessage().contains("--ctx-size"), e2.getMessage());
                assertArrayEquals(greedy(Model.load(m).newSession(), ONCE, 5), greedy(gpu.newSession(), ONCE, 5), "a smaller context still runs");
            }
        } finally {
            dev.tiller.kernels.cuda.emulator.CudaEmulator.setCapacity(was);
        }
    }

    static int[] greedy(Session s, int[] prompt, int n) {
        int vocab = s.model().config().vocabSize();
        float[] logits = s.prefill(prompt);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = Logits.argmax(logits, vocab);
            logits = s.decode(out[i]);
        }
        return out;
    }

    @Test
    void batchedDecodeOfTwoSequencesEqualsEachAlone() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model gpu = Model.load(m, Device.CUDA)) {
            int vocab = gpu.config().vocabSize();
            Session a = gpu.newSession(), b = gpu.newSession(), ref = gpu.newSession();
            a.prefill(ONCE);
            b.prefill(new int[]{1, 291, 376});
            Batch batch = new Batch(2).add(400, a.position(), a.kvCache(), 0, true).add(428, b.position(), b.kvCache(), 1, true);
            float[] both = new float[2 * vocab];
            gpu.forwardPass().forward(batch, Hooks.NONE, both);
            ref.prefill(ONCE);
            float[] alone = ref.decode(400);
            assertTrue(relErr(both, alone, vocab) < 1e-5, "row 0");
            ref.reset();
            ref.prefill(new int[]{1, 291, 376});
            alone = ref.decode(428);
            float[] row1 = java.util.Arrays.copyOfRange(both, vocab, 2 * vocab);
            assertTrue(relErr(row1, alone, vocab) < 1e-5, "row 1");
        }
    }

    @Test
    void hooksSeeAndChangeTheSameActivationsAsOnTheCpu() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model cpu = Model.load(m); Model gpu = Model.load(m, Device.CUDA)) {
            List<float[]> seen = new ArrayList<>();
            for (Model model : List.of(cpu, gpu)) {
                Session s = model.newSession();
                Hooks h = s.installHooks();
                h.add("blocks.2.hook_resid_mid", act -> seen.add(act.data().clone()));
                h.add("blocks.3.hook_mlp_out", act -> java.util.Arrays.fill(act.data(), 0, act.tokens() * act.width(), 0f)); // ablation
                seen.add(s.prefill(ONCE).clone());
            }
            int n = ONCE.length * cpu.config().dim();
            assertTrue(relErr(seen.get(2), seen.get(0), n) < 1e-4, "captured blocks.2.hook_resid_mid");
            assertTrue(relErr(seen.get(3), seen.get(1), cpu.config().vocabSize()) < 2e-3, "logits after an ablation hook");
        }
    }

    @Test
    void deviceSteeringAddEqualsTheHostHook() {
        Path m = SHARED.resolve("models/stories260K.gguf");
        try (Model gpu = Model.load(m, Device.CUDA)) {
            int dim = gpu.config().dim();
            float[] dir = new float[dim];
            for (int i = 0; i < dim; i++) dir[i] = (float) Math.sin(i) * 0.5f;
            Session onDevice = gpu.newSession(), onHost = gpu.newSession();
            onDevice.installHooks().add("blocks.2.hook_resid_post", new RowVectorAdd(dir, 0.7f));
            onHost.installHooks().add("blocks.2.hook_resid_post", a -> {
                for (int t = 0; t < a.tokens(); t++) a.addToRow(t, dir, 0.7f);
            });
            float[] d = onDevice.prefill(ONCE).clone(), hst = onHost.prefill(ONCE);
            assertTrue(relErr(d, hst, d.length) < 1e-5);
        }
    }

    /** Session-level and forward-pass-level overflow: the GPU throws what the CPU throws, message and all. */
    @Test
    void contextOverflowIsTheSameErrorAsOnTheCpu() {
        try (Model cpu = Model.load(SHARED.resolve("models/stories260K.gguf")); Model gpu = Model.load(SHARED.resolve("models/stories260K.gguf"), Device.CUDA)) {
            List<Throwable> seen = new ArrayList<>();
            for (Model m : List.of(cpu, gpu)) {
                Session s = m.newSession(4);
                seen.add(assertThrows(RuntimeException.class, () -> s.prefill(new int[]{1, 2, 3, 4, 5})));
                Session full = m.newSession(4);
                full.prefill(new int[]{1, 2, 3, 4});
                Batch past = new Batch(1).add(5, 4, full.kvCache(), 0, true);
                seen.add(assertThrows(RuntimeException.class, () -> m.forwardPass().forward(past, Hooks.NONE, new float[m.config().vocabSize()])));
                Batch badToken = new Batch(1).add(m.config().vocabSize(), 0, m.newSession().kvCache(), 0, true);
                seen.add(assertThrows(RuntimeException.class, () -> m.forwardPass().forward(badToken, Hooks.NONE, new float[m.config().vocabSize()])));
            }
            for (int i = 0; i < 3; i++) {
                assertEquals(seen.get(i).getClass(), seen.get(i + 3).getClass(), "case " + i + ": " + seen.get(i + 3));
                assertEquals(seen.get(i).getMessage(), seen.get(i + 3).getMessage());
            }
            assertInstanceOf(IllegalStateException.class, seen.get(1));
            assertTrue(seen.get(1).getMessage().contains("context is full"), seen.get(1).getMessage());
        }
    }
}
