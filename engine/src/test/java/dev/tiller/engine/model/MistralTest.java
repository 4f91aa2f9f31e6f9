package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.engine.api.Model;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.synthetic.ModelShape;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Mistral's sliding window, added as one description ({@code Mistral}) over ops that gemma2 brought. The check is an
 * identity of RoPE attention rather than a second implementation: scores depend only on the distance between query
 * and key, so in a one-block model a query whose window holds the last w tokens produces exactly the logits that the
 * same weights without a window produce at the end of a prompt made of just those w tokens.
 */
class MistralTest {
    static final int WINDOW = 3;
    static final int[] TOKENS = {5, 17, 99, 3, 250, 42, 7, 100};

    @TempDir
    static Path tmp;
    static Path llama, mistral, mistralNoWindow;

    @BeforeAll
    static void write() throws IOException {
        ModelShape oneBlock = new ModelShape("one-block-llama", Architectures.LLAMA, 64, 1, 4, 2, 16, 192, 256, 512,
                10000.0, 1e-5, false, null, null, 1, 2);
        llama = tmp.resolve("llama");
        SyntheticModel.of(oneBlock).withSeed(3).writeHuggingFace(llama, GGMLType.F32, Shared.DIR.resolve("tokenizers/smollm2"));
        mistral = copyAsMistral(llama, "mistral", WINDOW);
        mistralNoWindow = copyAsMistral(llama, "mistral-null-window", null);
    }

    /** The llama folder again, with config.json saying mistral and {@code sliding_window} (null: none). */
    private static Path copyAsMistral(Path from, String name, Integer window) throws IOException {
        Path to = tmp.resolve(name);
        Files.createDirectories(to);
        try (var files = Files.list(from)) {
            for (Path f : (Iterable<Path>) files::iterator) Files.copy(f, to.resolve(f.getFileName()));
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(to.resolve("config.json").toFile());
        cfg.put("model_type", "mistral");
        cfg.putArray("architectures").add("MistralForCausalLM");
        if (window == null) cfg.putNull("sliding_window");
        else cfg.put("sliding_window", window);
        json.writeValue(to.resolve("config.json").toFile(), cfg);
        return to;
    }

    @Test
    void configReadsTheWindowAndNullMeansNone() {
        try (Model m = Model.load(mistral)) {
            assertSame(Architectures.MISTRAL, m.config().architecture());
            assertEquals(WINDOW, m.config().slidingWindow());
            assertEquals(WINDOW, m.config().windowOf(0), "every layer slides");
            assertTrue(m.config().beyondLlamaBlock().contains("sliding-window attention"), "passes without a window refuse it");
        }
        try (Model m = Model.load(mistralNoWindow)) {
            assertSame(Architectures.MISTRAL, m.config().architecture());
            assertEquals(0, m.config().windowOf(0));
            assertTrue(m.config().beyondLlamaBlock().isEmpty());
        }
    }

    @Test
    void eachPositionSeesOnlyItsWindow() {
        try (Model windowed = Model.load(mistral); Model plain = Model.load(llama)) {
            int vocab = windowed.config().vocabSize();
            float[] got = windowed.newSession().prefillAllLogits(TOKENS);
            for (int p = 0; p < TOKENS.length; p++) {
                int[] visible = Arrays.copyOfRange(TOKENS, Math.max(0, p - WINDOW + 1), p + 1);
                float[] last = plain.newSession().prefillAllLogits(visible);
                double[][] want = {toDouble(Arrays.copyOfRange(last, (visible.length - 1) * vocab, visible.length * vocab))};
                ArchitectureTest.assertClose(want, Arrays.copyOfRange(got, p * vocab, (p + 1) * vocab), vocab, "position " + p);
            }
            // and the window is not a no-op: past it, the full-context logits differ
            float[] full = plain.newSession().prefillAllLogits(TOKENS);
            int p = TOKENS.length - 1;
            double diff = 0;
            for (int i = 0; i < vocab; i++) diff = Math.max(diff, Math.abs(full[p * vocab + i] - got[p * vocab + i]));
            assertTrue(diff > 1e-3, "logits past the window should differ from full attention, max diff " + diff);
        }
    }

    @Test
    void aNullWindowRunsAsLlama() {
        try (Model m = Model.load(mistralNoWindow); Model plain = Model.load(llama)) {
            assertArrayEquals(plain.newSession().prefillAllLogits(TOKENS), m.newSession().prefillAllLogits(TOKENS));
        }
    }

    private static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    /** The GPU slides the same window (emulator in CI): a windowed Mistral's prompt logits are the CPU's. */
    @Test
    void theGpuSlidesTheSameWindow() {
        String why = dev.tiller.kernels.cuda.CudaDevice.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why == null, () -> "skipped, no CUDA device: " + why);
        try (Model cpu = Model.load(mistral); Model gpu = Model.load(mistral, dev.tiller.engine.api.Device.CUDA);
             Model plain = Model.load(llama, dev.tiller.engine.api.Device.CUDA)) {
            float[] a = cpu.newSession().prefillAllLogits(TOKENS), b = gpu.newSession().prefillAllLogits(TOKENS);
            float[] noWindow = plain.newSession().prefillAllLogits(TOKENS);
            double err = 0, moved = 0;
            for (int i = 0; i < a.length; i++) {
                err = Math.max(err, Math.abs(a[i] - b[i]));
                moved = Math.max(moved, Math.abs(b[i] - noWindow[i]));
            }
            assertTrue(err <= 1e-4, "GPU vs CPU logits differ by " + err);
            assertTrue(moved > 1e-3, "the window changed nothing on the GPU");
        }
    }
}
