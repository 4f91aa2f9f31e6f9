package dev.tiller.cli;

import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.SyntheticModel;
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
        try {
            assertEquals(0, Tiller.commandLine().execute(args));
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

    @Test
    void qwen25HalfBillionShapeOnTheGpu(@TempDir Path tmp) {
        String why = CudaDevice.unavailableReason();
        assumeTrue(why == null, () -> "skipped, no CUDA device: " + why);
        Path model = tmp.resolve("qwen05-f16.gguf");
        SyntheticModel.preset("qwen2.5-0.5b").writeGguf(model, GGMLType.F16, SHARED.resolve("tokenizers/qwen2.5"));
        String out = run("bench", "--device", "cuda", "-m", model.toString(), "-p", "512", "-n", "128", "-r", "3");
        assertTrue(out.contains("pp512") && out.contains("tg128"), out);
    }
}
