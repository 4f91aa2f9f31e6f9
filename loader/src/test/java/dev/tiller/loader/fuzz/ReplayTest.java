package dev.tiller.loader.fuzz;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Replays one saved input through a loader target and prints its CPU time and allocation:
 * {@code mvn test -pl loader -Dtest=ReplayTest -Dfuzz.replay=FILE -Dfuzz.target=gguf|safetensors|hfTokenizer}.
 */
class ReplayTest {
    @Test
    @EnabledIfSystemProperty(named = "fuzz.replay", matches = ".+")
    void replay() throws Exception {
        Map<String, Consumer<byte[]>> targets = Map.of("gguf", FuzzTargets::gguf, "safetensors", FuzzTargets::safetensors,
                "hfTokenizer", FuzzTargets::hfTokenizer);
        byte[] in = Files.readAllBytes(Path.of(System.getProperty("fuzz.replay")));
        Consumer<byte[]> t = targets.get(System.getProperty("fuzz.target", "gguf"));
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 3; i++) {
            long cpu = mx.getCurrentThreadCpuTime(), bytes = mx.getCurrentThreadAllocatedBytes();
            t.accept(in);
            System.out.printf("replay %d: %.1f ms CPU, %d bytes allocated%n", i, (mx.getCurrentThreadCpuTime() - cpu) / 1e6,
                    mx.getCurrentThreadAllocatedBytes() - bytes);
        }
    }
}
