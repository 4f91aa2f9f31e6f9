package dev.tiller.bench;

import dev.tiller.cli.Tiller;
import dev.tiller.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code tiller throughput}: on the CPU with a tiny model here; on the GPU with a Qwen2.5-0.5B-shaped model. */
class ThroughputCommandTest {
    static final String SHARED = System.getProperty("tiller.shared", "../shared");

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
    void printsPrefillAndDecodeRatesOnTheCpu() {
        String out = run("throughput", "--preset", "tiny-qwen2", "--type", "f32", "--tokenizer", SHARED + "/tokenizers/smollm2", "--prompt-tokens", "8", "--gen-tokens", "4", "--repeat", "1");
        assertTrue(out.matches("(?s).*on cpu: prefill 8 tokens [0-9.]+ tok/s \\| decode 4 tokens [0-9.]+ tok/s.*"), out);
    }

    @Test
    void qwen25HalfBillionShapeOnTheGpu() {
        String why = CudaDevice.unavailableReason();
        assumeTrue(why == null, () -> "skipped, no CUDA device: " + why);
        String out = run("throughput", "--device", "cuda", "--preset", "qwen2.5-0.5b", "--type", "f16", "--tokenizer", SHARED + "/tokenizers/qwen2.5", "--prompt-tokens", "512",
                "--gen-tokens", "128");
        assertTrue(out.contains("on cuda: prefill 512 tokens"), out);
    }
}
