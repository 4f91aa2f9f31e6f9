package dev.tiller.cli;

import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code tiller bench}: llama-bench-style rows on the CPU here; on the GPU with a Qwen2.5-0.5B-shaped model. */
class BenchCommandTest {
    static final Path SHARED = Shared.DIR;

    static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        java.io.StringWriter err = new java.io.StringWriter();
        try {
            var cl = Tiller.commandLine();
            cl.setErr(new java.io.PrintWriter(err, true));
            int code = cl.execute(args);
            assertEquals(0, code, () -> "exit " + code + ", stderr: " + err + ", stdout: " + buf.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(old);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        System.err.print(out);
        return out;
    }

    @Test
    void printsPromptAndGenerationRowsOnTheCpu() {
        String out = run("bench", "-m", SHARED.resolve("models/stories260K.gguf").toString(), "-p", "8", "-n", "4", "-r", "1", "-t", "1");
        assertTrue(out.contains("pp8") && out.contains("tg4"), out);
    }

    /** --batch: steered and unsteered batch rows and their ratio, on the CPU and on CUDA (emulator or GPU). */
    @Test
    void batchThroughputPrintsSteeredAndPlainRows() {
        for (String device : new String[]{"cpu", "cuda"}) {
            if (device.equals("cuda") && CudaDevice.unavailableReason() != null) continue;
            String out = run("bench", "-m", SHARED.resolve("models/stories260K.gguf").toString(), "--batch", "3", "-n", "4", "--device", device);
            assertTrue(out.contains("batch3 x tg4 steered") && out.contains("batch3 x tg4 ") && out.contains("steered / unsteered"), out);
        }
    }

    @Test
    void qwen25HalfBillionShapeOnTheGpu(@TempDir Path tmp) {
        String why = CudaDevice.unavailableReason();
        assumeTrue(why == null, () -> "skipped, no CUDA device: " + why);
        // the real shape and llama-bench's sizes on a GPU; under the emulator (host arithmetic) a tiny shape, small sizes
        boolean emulated = dev.tiller.kernels.cuda.CudaLibraries.emulatorSelected();
        Path model = tmp.resolve("qwen-f16.gguf");
        if (emulated) SyntheticModel.preset("tiny-qwen2").writeGguf(model, GGMLType.F16);
        else SyntheticModel.preset("qwen2.5-0.5b").writeGguf(model, GGMLType.F16, SHARED.resolve("models/tiny-random-qwen2.gguf"));
        String p = emulated ? "32" : "512", n = emulated ? "8" : "128";
        String out = run("bench", "--device", "cuda", "-m", model.toString(), "-p", p, "-n", n, "-r", "3", "-d", p);
        assertTrue(out.contains("pp" + p) && out.contains("tg" + n + " @ d" + p), out);
        assertTrue(out.contains("device: ") && out.contains("GEMV"), out);
    }
}
