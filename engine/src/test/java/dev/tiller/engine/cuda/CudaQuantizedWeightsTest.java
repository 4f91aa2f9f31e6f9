package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.kernels.cuda.CudaLibraries;
import dev.tiller.kernels.cuda.emulator.CudaEmulator;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Logits;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static dev.tiller.engine.cuda.CudaTransformerTest.greedy;
import static dev.tiller.engine.cuda.CudaTransformerTest.relErr;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Weights read as stored: F16 / BF16 / Q8_0 / Q4_0 models on the GPU (quantized ones kept quantized) give the CPU's
 * logits and greedy tokens through every product path: decode by the GEMV kernels (one row: the stacked q|k|v and
 * gate|up as one GEMV each; fused kernels on or off), captured graphs, prefill by cuBLAS over F16 tiles dequantized a
 * few rows at a time, and with the GEMV off. Quantized models take less device memory at their peak than F16 ones.
 */
class CudaQuantizedWeightsTest {
    static final int[] PROMPT = {1, 5, 9, 17, 33, 65, 2, 4, 8, 16, 32, 64, 128, 3, 6, 12, 24, 48, 96, 7};

    @BeforeEach
    void needsCuda() {
        assumeTrue(CudaTransformerTest.UNAVAILABLE == null, () -> "skipped, no CUDA device: " + CudaTransformerTest.UNAVAILABLE);
        System.setProperty("tiller.cuda.dequantTile", "2048"); // several tiles per prefill product of these tiny matrices
    }

    @AfterEach
    void clear() {
        for (String p : new String[]{"tiller.cuda.dequantTile", "tiller.cuda.gemv", "tiller.cuda.fused"}) System.clearProperty(p);
    }

    static Path write(Path dir, String preset, String type) {
        Path f = dir.resolve(preset + "-" + type + ".gguf");
        SyntheticModel.preset(preset).withSeed(11).writeGguf(f, GGMLType.valueOf(type));
        return f;
    }

    static Model loadCuda(Path f, String gemv, String fused) {
        System.setProperty("tiller.cuda.gemv", gemv);
        System.setProperty("tiller.cuda.fused", fused);
        try {
            return Model.load(f, Device.CUDA);
        } finally {
            System.clearProperty("tiller.cuda.gemv");
            System.clearProperty("tiller.cuda.fused");
        }
    }

    /** qwen2 (biases, no q/k norm: the stacked paths) and qwen3 (q/k norms: step by step) in each format the GEMV reads. */
    @ParameterizedTest
    @CsvSource({"tiny-qwen2,F16", "tiny-qwen2,BF16", "tiny-qwen2,Q8_0", "tiny-qwen2,Q4_0", "tiny-qwen3,Q8_0", "tiny-qwen3,Q4_0"})
    void logitsAndGreedyTokensEqualTheCpus(String preset, String type, @TempDir Path tmp) {
        Path f = write(tmp, preset, type);
        try (Model cpu = Model.load(f)) {
            int[] expected = greedy(cpu.newSession(), PROMPT, 24);
            float[] prefill = cpu.newSession().prefillAllLogits(PROMPT);
            for (String fused : new String[]{"false", "true"}) {
                try (Model gpu = loadCuda(f, "true", fused)) {
                    String what = preset + " " + type + (fused.equals("true") ? " fused" : "");
                    assertTrue(gpu.describeDevice().contains("GEMV"), gpu.describeDevice());
                    if (type.startsWith("Q")) assertTrue(gpu.describeDevice().contains("kept quantized"), gpu.describeDevice());
                    // 20 rows: cuBLAS over dequantized tiles (F16 activations); 1..8 rows: GEMV (float32 activations)
                    float[] b = gpu.newSession().prefillAllLogits(PROMPT);
                    assertTrue(relErr(b, prefill, prefill.length) < 2e-2, what + " prefill " + relErr(b, prefill, prefill.length));
                    int[] short8 = java.util.Arrays.copyOf(PROMPT, 8);
                    float[] a8 = cpu.newSession().prefillAllLogits(short8), b8 = gpu.newSession().prefillAllLogits(short8);
                    assertTrue(relErr(b8, a8, a8.length) < 1e-5, what + " GEMV prefill " + relErr(b8, a8, a8.length));
                    var pass = (CudaTransformer) gpu.forwardPass();
                    long replays = pass.graphReplays();
                    assertArrayEquals(expected, greedy(gpu.newSession(), PROMPT, 24), what + " greedy tokens");
                    assertTrue(pass.graphReplays() - replays >= 20, what + ": decode steps replayed graphs");
                }
            }
        }
    }

    /** Decode logits stay the CPU's when the GEMV is off (every product cuBLAS, quantized weights through F16 tiles). */
    @Test
    void withoutTheGemvQuantizedDecodeRunsOnDequantizedTiles(@TempDir Path tmp) {
        Path f = write(tmp, "tiny-qwen2", "Q4_0");
        try (Model cpu = Model.load(f); Model gpu = loadCuda(f, "false", "false")) {
            assertTrue(gpu.describeDevice().contains("every product by cuBLAS"), gpu.describeDevice());
            Session a = cpu.newSession(), b = gpu.newSession();
            a.prefill(PROMPT);
            b.prefill(PROMPT);
            int vocab = cpu.config().vocabSize(), tok = 5;
            for (int i = 0; i < 6; i++) {
                float[] la = a.decode(tok).clone(), lb = b.decode(tok);
                assertTrue(relErr(lb, la, vocab) < 2e-2, "step " + i + ": " + relErr(lb, la, vocab));
                tok = Logits.argmax(la, vocab);
            }
        }
    }

    /** Steering on the device with quantized weights: the CPU's greedy tokens (graphs with a steering vector). */
    @Test
    void steeredQuantizedDecodeEqualsTheCpu(@TempDir Path tmp) {
        Path f = write(tmp, "tiny-qwen2", "Q8_0");
        try (Model cpu = Model.load(f); Model gpu = Model.load(f, Device.CUDA)) {
            float[] dir = new float[cpu.config().dim()];
            for (int i = 0; i < dir.length; i++) dir[i] = (float) Math.sin(5 * i) * 0.5f;
            Session sc = cpu.newSession(), sg = gpu.newSession();
            for (Session s : new Session[]{sc, sg}) s.installHooks().add("blocks.0.hook_resid_post", new RowVectorAdd(dir, 1.5f));
            assertArrayEquals(greedy(sc, PROMPT, 20), greedy(sg, PROMPT, 20));
        }
    }

    /**
     * Device bytes in use once the previous model's KV caches, freed by a Cleaner when their sessions are collected,
     * are gone: measured while one was still to be freed, the next model's peak came out too small (the previous
     * cache's bytes counted in "before" and freed during the run).
     */
    private static long settledBytesInUse() {
        long now = CudaEmulator.bytesInUse();
        for (int i = 0, same = 0; i < 100 && same < 3; i++) { // three collections in a row that freed nothing
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long next = CudaEmulator.bytesInUse();
            same = next == now ? same + 1 : 0;
            now = next;
        }
        return now;
    }

    /** Peak device memory while loading and running: Q4_0 below Q8_0 below F16 (no F16 copy of quantized weights). */
    @Test
    void quantizedModelsTakeLessDeviceMemoryAtTheirPeak(@TempDir Path tmp) {
        assumeTrue(CudaLibraries.emulatorSelected(), "needs the emulator's peak-memory count");
        System.setProperty("tiller.cuda.dequantTile", String.valueOf(1 << 24));
        long[] peak = new long[3];
        String[] types = {"F16", "Q8_0", "Q4_0"};
        try (Model warm = Model.load(write(tmp, "tiny-qwen2", "F32"), Device.CUDA)) {
            greedy(warm.newSession(64), PROMPT, 4); // what the process allocates once (graph capture's cuBLAS workspace)
        }
        for (int i = 0; i < types.length; i++) {
            Path f = write(tmp, "tiny-qwen2", types[i]);
            CudaDevice.open();
            long before = settledBytesInUse();
            CudaEmulator.resetPeak();
            try (Model gpu = Model.load(f, Device.CUDA)) {
                Session s = gpu.newSession(64);
                greedy(s, PROMPT, 4);
                peak[i] = CudaEmulator.peakBytesInUse() - before;
            }
        }
        System.err.println("peak device bytes F16 / Q8_0 / Q4_0: " + java.util.Arrays.toString(peak));
        assertTrue(peak[1] < peak[0] && peak[2] < peak[1], "peak device bytes F16 / Q8_0 / Q4_0: " + java.util.Arrays.toString(peak));
    }
}
