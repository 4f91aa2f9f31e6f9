package dev.tiller.cli;

import dev.tiller.engine.batch.*;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** {@code tiller batch} killed with SIGKILL mid-way and re-run ends with the output of an uninterrupted run. */
@Slow
class BatchResumeTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void killedJobResumesWithNothingLostDuplicatedOrTruncated(@TempDir Path dir) throws Exception {
        List<BatchRequest> reqs = new ArrayList<>();
        for (int i = 0; i < 60; i++) {
            reqs.add(BatchRequest.ofPrompt("r" + i, "Once upon a time " + "there was ".repeat(i % 3)).withMaxTokens(40 + i % 7)
                    .withTemperature(i % 2 == 0 ? 0f : 0.8f));
        }
        Path in = dir.resolve("in.jsonl");
        RequestFile.write(in, BatchFormat.JSONL, reqs);

        Path full = dir.resolve("full.jsonl");
        assertEquals(0, tiller(in, full).waitFor(120, TimeUnit.SECONDS) ? 0 : -1);
        List<BatchResult> expected = ResultFile.read(full, BatchFormat.JSONL);
        assertEquals(reqs.size(), expected.size());

        Path out = dir.resolve("out.jsonl");
        Process p = tiller(in, out);
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (p.isAlive() && lines(out) < 8 && System.nanoTime() < deadline) Thread.sleep(5);
        assertTrue(p.isAlive(), "the job ended before it could be killed");
        p.destroyForcibly();      // SIGKILL: no shutdown hooks, no flushing
        p.waitFor();
        int before = ResultFile.read(out, BatchFormat.JSONL).size();
        assertTrue(before < reqs.size(), "killed mid-way");

        Process again = tiller(in, out);
        assertTrue(again.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, again.exitValue());
        List<BatchResult> got = ResultFile.read(out, BatchFormat.JSONL);
        assertEquals(reqs.size(), got.size(), "no record lost or duplicated");
        Map<String, BatchResult> byId = new HashMap<>();
        for (BatchResult r : got) assertNull(byId.put(r.id(), r), "duplicate " + r.id());
        for (BatchResult e : expected) {
            BatchResult g = byId.get(e.id());
            assertNotNull(g, e.id());
            assertArrayEquals(e.tokens(), g.tokens(), e.id());
            assertEquals(e.text(), g.text(), e.id());
            assertEquals(e.finishReason(), g.finishReason(), e.id());
        }
        // every line of the file is whole
        for (String line : Files.readAllLines(out)) assertDoesNotThrow(() -> BatchJson.parseResult(line));
    }

    static long lines(Path p) throws Exception {
        if (!Files.exists(p)) return 0;
        long n = 0;
        for (byte b : Files.readAllBytes(p)) if (b == '\n') n++;
        return n;
    }

    static Process tiller(Path in, Path out) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), "dev.tiller.cli.Tiller", "batch",
                "-m", SHARED.resolve("models/stories260K.gguf").toString(), "-i", in.toString(), "-o", out.toString(),
                "--parallel", "4", "--no-progress", "-t", "1");
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }
}
