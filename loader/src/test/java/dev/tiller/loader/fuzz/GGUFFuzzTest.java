package dev.tiller.loader.fuzz;

import dev.tiller.testsupport.Slow;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the GGUF reader (header, metadata, tensor infos, bounds of every tensor slice) and the GGUF tokenizer loader.
 * {@code gguf} is Jazzer's coverage-guided target (regression inputs in resources, long runs with JAZZER_FUZZ=1);
 * {@code seededMutations} runs a short fixed mutation campaign from the shared files on every build.
 */
class GGUFFuzzTest {
    static List<byte[]> seeds() {
        List<byte[]> s = Seeds.ggufSynthetic();
        s.addAll(Seeds.ggufShared(300));
        return s;
    }

    @BeforeAll
    static void seedJazzer() {
        if (JazzerCorpus.fuzzing()) JazzerCorpus.seed(GGUFFuzzTest.class, "gguf", seeds());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void gguf(byte[] data) {
        FuzzTargets.gguf(data);
    }

    @Slow
    @Test
    void seededMutations() {
        List<byte[]> seeds = seeds();
        assertTrue(seeds.size() >= 10, "the shared models give seeds");
        long execs = new SeededFuzzer("gguf", seeds, false, FuzzTargets::gguf).run(1, 3000, Duration.ofSeconds(8));
        assertTrue(execs > seeds.size());
    }

    @Test
    void wholeSharedFilesParse() throws Exception {
        // the real files themselves, unshrunk, are valid inputs of the target
        Path shared = Seeds.shared();
        for (String f : new String[]{"models/stories260K.gguf", "models/llama-2-tiny-random.gguf", "reference/stories260K/happy_mean.gguf"}) {
            FuzzTargets.gguf(Files.readAllBytes(shared.resolve(f)));
        }
    }
}
