package dev.tiller.spark;

import dev.tiller.testsupport.Shared;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJob;
import dev.tiller.engine.batch.BatchJson;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.ResultFile;
import dev.tiller.engine.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The spark-submit entry point in local[2]: request files read through Hadoop's file system (a directory of JSONL), bad
 * lines reported with file and line, ids unique across files, results equal to {@code tiller batch}'s.
 */
class TillerSparkJobTest {

    @Test
    void directoryOfRequestFilesGivesTheSingleMachineResults(@TempDir Path dir) throws IOException {
        String model = Shared.stories260K().toString();
        String happy = Shared.reference("stories260K", "happy_mean.gguf").toString().replace("\\", "/");
        Path in = Files.createDirectories(dir.resolve("in"));
        // a.jsonl: good requests, one steered, one with a bad field, one without an id
        Files.writeString(in.resolve("a.jsonl"), """
                {"id": "a1", "prompt": "Once upon a time", "max_tokens": 12}
                {"id": "a2", "prompt": "The little dog was very sad because", "max_tokens": 14, "steer": "%s:0.6"}
                {"id": "a3", "prompt": "Tom and Lily", "max_tokens": "many"}
                {"prompt": "One day", "max_tokens": 9}
                """.formatted(happy));
        // b.jsonl: a line that is not JSON (line 2), an id already used in a.jsonl (line 3), and good requests
        Files.writeString(in.resolve("b.jsonl"), """
                {"id": "b1", "prompt": "She wanted to", "max_tokens": 10, "temperature": 0.9, "seed": 3}
                {"id": "b2", "prompt": "The sun was
                {"id": "a1", "prompt": "A big red ball", "max_tokens": 8}
                {"id": "b4", "prompt": "Mom said", "max_tokens": 11}
                """);
        Files.writeString(in.resolve("_ignored.jsonl"), "{\"id\": \"x\", \"prompt\": \"not read\"}\n");

        // what tiller batch gives for the good requests, in one file (the same ids; the id-less one named as the job names it)
        Path single = dir.resolve("single.jsonl"), expectedOut = dir.resolve("expected.jsonl");
        List<String> lines = new ArrayList<>(Files.readAllLines(in.resolve("a.jsonl")));
        lines.set(3, lines.get(3).replace("{\"prompt\"", "{\"id\": \"a.jsonl:4\", \"prompt\""));
        List<String> b = Files.readAllLines(in.resolve("b.jsonl"));
        lines.add(b.get(0));
        lines.add(b.get(3));
        Files.write(single, lines);
        try (Model m = Model.load(Path.of(model))) {
            BatchEngine.Options o = new BatchEngine.Options(4, 512, 256, SamplerConfig.defaults().withTemperature(0), 0, 256, false);
            BatchJob.run(m, o, single, BatchFormat.JSONL, expectedOut, BatchFormat.JSONL, false, false, new PrintStream(OutputStream.nullOutputStream()));
        }
        Map<String, BatchResult> expected = new HashMap<>();
        for (BatchResult r : ResultFile.read(expectedOut, BatchFormat.JSONL)) expected.put(r.id(), r);
        assertEquals(6, expected.size(), expected.keySet().toString());

        Path out = dir.resolve("out");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream oldErr = System.err;
        System.setProperty("spark.master", "local[2]");
        System.setProperty("spark.ui.enabled", "false");
        int rc;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            rc = new picocli.CommandLine(new TillerSparkJob()).execute("-m", model, "-i", in.toString(), "-o", out.toString(),
                    "--temp", "0", "-c", "256", "-P", "3", "--partitions", "3");
        } finally {
            System.setErr(oldErr);
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
        String log = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, rc, log);
        assertTrue(log.contains("b.jsonl: line 2: malformed JSON"), log);
        assertTrue(log.contains("b.jsonl: duplicate id 'a1' (first in "), log);
        assertTrue(log.contains("a.jsonl: line 3: "), log);

        List<BatchResult> got = new ArrayList<>();
        try (Stream<Path> parts = Files.list(out)) {
            for (Path p : parts.filter(p -> p.getFileName().toString().startsWith("part-")).toList()) {
                for (String l : Files.readAllLines(p)) if (!l.isBlank()) got.add(BatchJson.parseResult(l));
            }
        }
        assertEquals(expected.size(), got.size(), "one result per distinct id");
        for (BatchResult g : got) {
            BatchResult e = expected.remove(g.id());
            assertNotNull(e, "unexpected or repeated id " + g.id());
            assertArrayEquals(e.tokens(), g.tokens(), g.id());
            assertEquals(e.text(), g.text(), g.id());
            assertEquals(e.finishReason(), g.finishReason(), g.id());
            assertEquals(e.error(), g.error(), g.id());
        }
        assertTrue(Files.readString(out.resolve("_problems.txt")).contains("b.jsonl: line 2: malformed JSON"));
    }

    @Test
    void badArgumentsNameTheOption(@TempDir Path dir) {
        String model = Shared.stories260K().toString();
        var e = assertThrows(IllegalArgumentException.class, () -> execute("-m", "hdfs:///models/m.gguf", "-i", dir.toString(), "-o", dir.resolve("o").toString()));
        assertTrue(e.getMessage().startsWith("--model hdfs:///models/m.gguf: "), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> execute("-m", model, "-i", dir.toString(), "-o", dir.resolve("o").toString(), "--partitions", "0"));
        assertTrue(e.getMessage().startsWith("--partitions must be >= 1"), e.getMessage());
        System.setProperty("spark.master", "local[1]");
        System.setProperty("spark.ui.enabled", "false");
        try {
            e = assertThrows(IllegalArgumentException.class, () -> execute("-m", model, "-i", dir.resolve("none/*.jsonl").toString(), "-o", dir.resolve("o").toString()));
            assertTrue(e.getMessage().startsWith("--input " + dir.resolve("none/*.jsonl") + ": no request files"), e.getMessage());
        } finally {
            System.clearProperty("spark.master");
            System.clearProperty("spark.ui.enabled");
        }
    }

    static int execute(String... args) throws Exception {
        TillerSparkJob job = new TillerSparkJob();
        new picocli.CommandLine(job).parseArgs(args);
        return job.call();
    }
}
