package dev.tiller.loader.fuzz;

import dev.tiller.testsupport.Slow;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fuzzes the safetensors header reader: the length prefix, the JSON header, dtypes, shapes and data offsets. */
class SafetensorsFuzzTest {
    @BeforeAll
    static void seedJazzer() {
        JazzerCorpus.seed(SafetensorsFuzzTest.class, "safetensors", Seeds.safetensors());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void safetensors(byte[] data) {
        FuzzTargets.safetensors(data);
    }

    @Slow
    @Test
    void seededMutations() {
        long execs = new SeededFuzzer("safetensors", Seeds.safetensors(), true, FuzzTargets::safetensors).run(2, 20_000, Duration.ofSeconds(5));
        assertTrue(execs > 100);
    }
}
