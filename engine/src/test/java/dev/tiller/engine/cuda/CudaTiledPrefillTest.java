package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.Batch;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.kernels.cuda.CudaLibraries;
import dev.tiller.kernels.cuda.emulator.CudaEmulator;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;

import static dev.tiller.engine.cuda.CudaTransformerTest.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Prefill attention by the tiled kernel, opt-in ({@code TILLER_CUDA_TILED_ATTENTION=1}; here
 * {@code -Dtiller.cuda.tiledAttention=true}, read when the model loads): the prompt logits of 101 rows (six tiles of
 * 16 and a tail of 5) equal the CPU's and the row kernel's on llama (head_dim 16) and on gemma2 (head_dim 32, a window
 * of 4 on even layers, score and logit soft-caps), and so do those of a prompt continued after 40 cached positions;
 * the tiled kernel ran once per layer (the emulator counts launches; on a GPU the logits are the check), and not at
 * all without the switch (unless the environment sets it) or for a batch of two sequences.
 */
class CudaTiledPrefillTest {
    static final String UNAVAILABLE = CudaDevice.unavailableReason();
    static final int ROWS = 101, CACHED = 40;
    /** gpu-check's tiled section runs these tests with the variable set: then the default model takes the tiled kernel too. */
    static final boolean ENV_ON = "1".equals(System.getenv("TILLER_CUDA_TILED_ATTENTION"))
            || "true".equalsIgnoreCase(System.getenv("TILLER_CUDA_TILED_ATTENTION"));

    @TempDir
    static Path tmp;
    static Path llama, gemma2;

    @BeforeAll
    static void write() {
        llama = tmp.resolve("llama.gguf");
        gemma2 = tmp.resolve("gemma2.gguf");
        SyntheticModel.preset("tiny-llama").withSeed(3).writeGguf(llama, GGMLType.F32);
        SyntheticModel.preset("tiny-gemma2").withSeed(5).writeGguf(gemma2, GGMLType.F32);
    }

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    static Model loadTiled(Path m) {
        System.setProperty("tiller.cuda.tiledAttention", "true");
        try {
            return Model.load(m, Device.CUDA);
        } finally {
            System.clearProperty("tiller.cuda.tiledAttention");
        }
    }

    /** attention_tiled launches so far, or -1 on a GPU (where nothing counts them). */
    static long tiledLaunches() {
        return CudaLibraries.emulatorSelected() ? CudaEmulator.launches("attention_tiled") : -1;
    }

    static void assertLaunches(long expected, long before, String what) {
        if (before >= 0) assertEquals(before + expected, tiledLaunches(), what);
    }

    static int[] prompt(int n, int vocab, int salt) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i == 0 ? 1 : (7 + i * 37 + salt * 11) % vocab;
        return p;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "gemma2"})
    void promptLogitsEqualTheCpusAndTheRowKernels(String which) {
        Path m = which.equals("llama") ? llama : gemma2;
        try (Model cpu = Model.load(m); Model tiled = loadTiled(m); Model rows = Model.load(m, Device.CUDA)) {
            int vocab = cpu.config().vocabSize(), layers = cpu.config().layers();
            int[] prompt = prompt(ROWS, vocab, 0);
            long before = tiledLaunches();
            float[] a = cpu.newSession().prefillAllLogits(prompt), b = tiled.newSession().prefillAllLogits(prompt);
            System.err.printf("%s: tiled GPU vs CPU prompt logits, max relative difference %.2e%n", which, relErr(b, a, a.length));
            assertTrue(relErr(b, a, a.length) <= 2e-4, which + ": tiled prompt logits differ from the CPU's by " + relErr(b, a, a.length));
            assertLaunches(layers, before, "one attention_tiled launch per layer");

            before = tiledLaunches();   // (the two kernels sum in another order: equal on the emulator, close on a GPU)
            float[] c = rows.newSession().prefillAllLogits(prompt);
            assertTrue(relErr(b, c, c.length) <= 1e-4, which + ": tiled vs row kernel " + relErr(b, c, c.length));
            assertLaunches(ENV_ON ? layers : 0, before, "the default follows TILLER_CUDA_TILED_ATTENTION (set: " + ENV_ON + ")");

            // rows 40..100 after 40 cached positions: tiles whose keys start in the earlier prefill
            int[] head = Arrays.copyOf(prompt, CACHED), rest = Arrays.copyOfRange(prompt, CACHED, ROWS);
            Session sc = cpu.newSession(), sg = tiled.newSession();
            sc.prefill(head);
            sg.prefill(head);
            float[] ca = sc.prefillAllLogits(rest), cb = sg.prefillAllLogits(rest);
            assertTrue(relErr(cb, ca, ca.length) <= 2e-4, which + ": continued prompt " + relErr(cb, ca, ca.length));
            float[] tail = Arrays.copyOfRange(a, CACHED * vocab, ROWS * vocab);
            assertTrue(relErr(cb, tail, tail.length) <= 2e-4, which + ": continued vs whole prompt " + relErr(cb, tail, tail.length));
        }
    }

    /** Rows of two sequences in one batch (each of 40 rows, past the threshold) take the row kernel. */
    @Test
    void aBatchOfTwoSequencesKeepsToTheRowKernel() {
        try (Model tiled = loadTiled(llama)) {
            int vocab = tiled.config().vocabSize(), n = 40;
            int[] pa = prompt(n, vocab, 1), pb = prompt(n, vocab, 2);
            Session a = tiled.newSession(), b = tiled.newSession();
            Batch batch = new Batch(2 * n);
            for (int t = 0; t < n; t++) batch.add(pa[t], t, a.kvCache(), 0, t == n - 1);
            for (int t = 0; t < n; t++) batch.add(pb[t], t, b.kvCache(), 1, t == n - 1);
            long before = tiledLaunches();
            float[] both = new float[2 * vocab];
            tiled.forwardPass().forward(batch, Hooks.NONE, both);
            assertLaunches(0, before, "two sequences: the row kernel");
            float[] alone = tiled.newSession().prefill(pa);
            assertTrue(relErr(both, alone, vocab) <= 1e-4, "sequence a: " + relErr(both, alone, vocab));
            alone = tiled.newSession().prefill(pb);
            float[] rowB = Arrays.copyOfRange(both, vocab, 2 * vocab);
            assertTrue(relErr(rowB, alone, vocab) <= 1e-4, "sequence b: " + relErr(rowB, alone, vocab));
        }
    }
}
