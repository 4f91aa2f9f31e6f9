package dev.tiller.engine.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tiller.engine.batch.BatchFormat;
import dev.tiller.engine.batch.BatchJson;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.RequestFile;
import dev.tiller.loader.fuzz.FuzzTargets;
import dev.tiller.loader.fuzz.JazzerCorpus;
import dev.tiller.loader.fuzz.SeededFuzzer;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes batch request files (JSONL and length-delimited Protobuf) through {@link RequestFile#read}, whose contract is
 * that bad input never stops a job: every outcome must be a {@link RequestFile.Contents} (bad lines and records become
 * problems, malformed counts or error results). The first byte of an input picks the format.
 */
class BatchRequestFuzzTest {
    static final String JSONL = String.join("\n",
            "{\"id\":\"a\",\"prompt\":\"Once upon a time\",\"max_tokens\":16,\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"min_p\":0.05,\"seed\":7,\"stop\":[\"\\n\\n\"]}",
            "{\"id\":2,\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"steer\":[\"happy.steer:0.5\"]}",
            "{\"prompt\":\"x\",\"thinking\":{\"end_scale\":1.5,\"budget\":64,\"min\":4,\"wait\":\"Wait\",\"open\":true},\"extra\":1}",
            "",
            "not json",
            "{\"id\":\"a\",\"prompt\":\"dup\"}",
            "{\"id\":\"bad\",\"max_tokens\":\"many\"}") + "\n";

    static List<byte[]> seeds() {
        List<byte[]> out = new ArrayList<>();
        out.add(withFormat('J', JSONL.getBytes(StandardCharsets.UTF_8)));
        List<BatchRequest> reqs = new ArrayList<>();
        long line = 0;
        for (String l : JSONL.split("\n")) {
            line++;
            try {
                reqs.add(BatchJson.parseRequest(l, line, w -> { }));
            } catch (IllegalArgumentException skipped) {
                // the bad lines of the JSONL seed
            }
        }
        Path p = null;
        try {
            p = Files.createTempFile(FuzzTargets.tmp(), "seed", ".pb");
            RequestFile.write(p, BatchFormat.PROTO, reqs);
            out.add(withFormat('P', Files.readAllBytes(p)));
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static byte[] withFormat(char f, byte[] content) {
        byte[] b = new byte[content.length + 1];
        b[0] = (byte) f;
        System.arraycopy(content, 0, b, 1, content.length);
        return b;
    }

    static void target(byte[] data) {
        if (data.length == 0) return;
        BatchFormat format = data[0] == 'P' || (data[0] & 1) == 1 ? BatchFormat.PROTO : BatchFormat.JSONL;
        FuzzTargets.onTempFile("fuzz-batch", format == BatchFormat.PROTO ? ".pb" : ".jsonl", java.util.Arrays.copyOfRange(data, 1, data.length), p -> {
            RequestFile.Contents c = RequestFile.read(p, format);
            for (BatchRequest r : c.requests()) {
                if (r.id() == null || r.id().isEmpty()) throw new AssertionError("request without id: " + r);
            }
        });
    }

    @BeforeAll
    static void seedJazzer() {
        JazzerCorpus.seed(BatchRequestFuzzTest.class, "requests", seeds());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void requests(byte[] data) {
        target(data);
    }

    /** Finding (seeded batch fuzzer): one line that is not UTF-8 aborted the whole job with "Input length = 1". */
    @Test
    void aLineThatIsNotUtf8IsSkippedAndReported(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path p = tmp.resolve("r.jsonl");
        byte[] bad = {'{', '"', 'p', 'r', 'o', 'm', 'p', 't', '"', ':', '"', (byte) 0xC3, '"', '}'};
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.writeBytes("{\"id\":\"ok1\",\"prompt\":\"a\"}\r\n".getBytes(StandardCharsets.UTF_8));
        b.writeBytes(bad);
        b.writeBytes("\n{\"id\":\"ok2\",\"prompt\":\"\u00e9\"}".getBytes(StandardCharsets.UTF_8)); // no final newline
        Files.write(p, b.toByteArray());
        RequestFile.Contents c = RequestFile.read(p, BatchFormat.JSONL);
        assertTrue(c.requests().size() == 2 && c.requests().get(1).prompt().equals("\u00e9"), c.requests().toString());
        assertTrue(c.malformed() == 1 && c.problems().contains("line 2: not valid UTF-8, skipped"), c.problems().toString());
        assertTrue(c.requests().get(1).line() == 3);
    }

    /** Finding (seeded batch fuzzer): a record length varint decoding to a negative size stopped a Protobuf job. */
    @Test
    void aNegativeRecordSizeIsAMalformedRecord(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path p = tmp.resolve("r.pb");
        // varint 0xFFFFFFFF (5 bytes) = -1 as int32
        Files.write(p, new byte[]{(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x0F, 1, 2, 3});
        RequestFile.Contents c = RequestFile.read(p, BatchFormat.PROTO);
        assertTrue(c.requests().isEmpty() && c.malformed() == 1, c.problems().toString());
        assertTrue(c.problems().get(0).contains("negative record size"), c.problems().toString());
    }

    /** Limit: an over-long JSONL line is skipped with a message, not read into memory (sparse file: a line of NULs). */
    @Slow
    @Test
    void anOverlongLineIsSkipped(@org.junit.jupiter.api.io.TempDir Path tmp) throws IOException {
        Path p = tmp.resolve("long.jsonl");
        try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(RequestFile.MAX_LINE_BYTES + 10L);
            f.seek(RequestFile.MAX_LINE_BYTES + 10L);
            f.write("\n{\"id\":\"after\",\"prompt\":\"x\"}\n".getBytes(StandardCharsets.UTF_8));
        }
        RequestFile.Contents c = RequestFile.read(p, BatchFormat.JSONL);
        assertTrue(c.malformed() == 1 && c.problems().get(0).contains("line 1: longer than"), c.problems().toString());
        assertTrue(c.requests().size() == 1 && c.requests().get(0).id().equals("after"), c.requests().toString());
    }

    @Slow
    @Test
    void seededMutations() {
        List<byte[]> seeds = seeds();
        long execs = new SeededFuzzer("batch", seeds, true, BatchRequestFuzzTest::target).run(9, 20_000, Duration.ofSeconds(5));
        assertTrue(execs > seeds.size());
    }
}
