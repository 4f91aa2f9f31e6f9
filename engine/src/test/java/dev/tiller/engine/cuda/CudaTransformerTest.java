package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.engine.model.Batch;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.SyntheticModel;
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

    @Test
    void contextOverflowIsTheSameErrorAsOnTheCpu() {
        try (Model gpu = Model.load(SHARED.resolve("models/stories260K.gguf"), Device.CUDA)) {
            Session s = gpu.newSession(4);
            var e = assertThrows(IllegalStateException.class, () -> s.prefill(new int[]{1, 2, 3, 4, 5}));
            assertTrue(e.getMessage().contains("context is full"), e.getMessage());
        }
    }
}
