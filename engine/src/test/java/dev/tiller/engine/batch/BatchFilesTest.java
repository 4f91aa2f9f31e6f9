package dev.tiller.engine.batch;

import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Request and result files: bad input, both formats, recovery of a partial last record. */
class BatchFilesTest {

    @Test
    void badInputIsReportedWithLineNumbersAndTheRestIsRead(@TempDir Path dir) throws Exception {
        Path in = dir.resolve("in.jsonl");
        Files.writeString(in, String.join("\n",
                "{\"id\":\"a\",\"prompt\":\"x\",\"max_tokens\":3}",
                "{\"id\":\"b\",\"prompt\":\"y\",\"colour\":\"red\",\"thinking\":{\"budget\":4,\"shade\":1}}",
                "{not json",
                "",
                "{\"id\":\"a\",\"prompt\":\"again\"}",
                "{\"id\":\"c\",\"prompt\":\"z\",\"max_tokens\":\"many\"}",
                "[1,2]",
                "{\"prompt\":\"no id\",\"stop\":\"\\n\",\"steer\":[\"v.gguf:0.5\"],\"seed\":7}") + "\n");
        RequestFile.Contents c = RequestFile.read(in, BatchFormat.JSONL);
        assertEquals(List.of("a", "b", "8"), c.requests().stream().map(BatchRequest::id).toList());
        assertEquals(2, c.malformed());
        assertEquals(1, c.duplicates());
        assertEquals(1, c.rejected().size());
        assertEquals("c", c.rejected().getFirst().id());
        assertEquals("error", c.rejected().getFirst().finishReason());
        String all = String.join("\n", c.problems());
        assertTrue(all.contains("line 2: unknown field 'colour' ignored"), all);
        assertTrue(all.contains("line 2: unknown field 'thinking.shade' ignored"), all);
        assertTrue(all.contains("line 3: malformed JSON"), all);
        assertTrue(all.contains("line 5: duplicate id 'a' (first on line 1) skipped"), all);
        assertTrue(all.contains("line 6: max_tokens must be an integer"), all);
        assertTrue(all.contains("line 7: expected a JSON object"), all);
        BatchRequest last = c.requests().get(2);
        assertEquals(List.of("\n"), last.stop());
        assertEquals(List.of("v.gguf:0.5"), last.steer());
        assertEquals(7L, last.seed());
        assertEquals(4, c.requests().get(1).thinking().budget());
    }

    @Test
    void protobufRecordsRoundTrip(@TempDir Path dir) {
        List<BatchRequest> reqs = List.of(
                new BatchRequest("p1", "Once", null, 12, 0.7f, 0.9f, 20, 0.1f, 42L, List.of("."), List.of("a.gguf:-1"),
                        new ThinkingControl(0.5, 100, 10, "Hmm", true), 1),
                new BatchRequest("p2", null, List.of(ChatMessage.system("be brief"), ChatMessage.user("hi")), null, null, null, null, null,
                        null, null, null, null, 2));
        Path f = dir.resolve("in.pb");
        assertEquals(BatchFormat.PROTO, BatchFormat.of(f));
        RequestFile.write(f, BatchFormat.PROTO, reqs);
        RequestFile.Contents c = RequestFile.read(f, BatchFormat.PROTO);
        assertEquals(reqs, c.requests());
        assertTrue(c.problems().isEmpty(), c.problems().toString());

        Path out = dir.resolve("out.pb");
        BatchResult r1 = new BatchResult("p1", "héllo", new int[]{1, 300, 151643}, "stop", 5, 3, 0, 1.5, 9.25, null);
        BatchResult r2 = BatchResult.error("p2", "bad");
        try (ResultFile w = ResultFile.append(out, BatchFormat.PROTO, false)) {
            w.write(r1);
            w.write(r2);
        }
        List<BatchResult> back = ResultFile.read(out, BatchFormat.PROTO);
        assertEquals(2, back.size());
        assertEquals("héllo", back.get(0).text());
        assertArrayEquals(new int[]{1, 300, 151643}, back.get(0).tokens());
        assertEquals(9.25, back.get(0).totalMs());
        assertEquals("bad", back.get(1).error());
    }

    /**
     * Records written byte by byte from tiller_batch.proto's field numbers: files written before the classes were
     * generated still read; an unknown field is named; a damaged record is skipped and the next one read.
     */
    @Test
    void protobufWireFormatIsTheProtoFiles(@TempDir Path dir) throws Exception {
        byte[] first = {
                0x0A, 1, 'a',                       // 1 id "a"
                0x12, 4, 'O', 'n', 'c', 'e',        // 2 prompt "Once"
                0x20, 12,                           // 4 max_tokens 12
                0x4A, 1, '.',                       // 9 stop "."
                0x62, 2, 0x10, 64,                  // 12 thinking { 2 budget 64 }
                (byte) 0xA8, 0x06, 1,               // 101 (unknown) varint 1
        };
        byte[] damaged = {0x0A, 5, 'x'};            // id claims 5 bytes, has 1
        byte[] third = {0x12, 1, 'z'};              // no id: the record number becomes it
        java.io.ByteArrayOutputStream file = new java.io.ByteArrayOutputStream();
        for (byte[] rec : List.of(first, damaged, third)) {
            file.write(rec.length);
            file.write(rec);
        }
        Path f = Files.write(dir.resolve("in.pb"), file.toByteArray());
        RequestFile.Contents c = RequestFile.read(f, BatchFormat.PROTO);
        assertEquals(List.of("a", "3"), c.requests().stream().map(BatchRequest::id).toList());
        BatchRequest a = c.requests().get(0);
        assertEquals("Once", a.prompt());
        assertEquals(12, a.maxTokens());
        assertNull(a.temperature());
        assertEquals(List.of("."), a.stop());
        assertEquals(64, a.thinking().budget());
        assertNull(a.thinking().endScale());
        assertEquals(1, c.malformed());
        String all = String.join("\n", c.problems());
        assertTrue(all.contains("record 1: unknown field number 101 ignored"), all);
        assertTrue(all.contains("record 2: not a valid Request message"), all);

        // and a result, packed tokens and all, is the bytes the proto file gives
        byte[] result = BatchMessages.toMessage(new BatchResult("r", "", new int[]{1, 300}, "stop", 0, 0, 0, 0, 0, null)).toByteArray();
        assertArrayEquals(new byte[]{0x0A, 1, 'r', 0x1A, 3, 1, (byte) 0xAC, 0x02, 0x22, 4, 's', 't', 'o', 'p'}, result);
    }

    @Test
    void aPartialLastRecordIsDroppedOnRecovery(@TempDir Path dir) throws Exception {
        BatchResult r = new BatchResult("x", "text", new int[]{5, 6}, "length", 2, 2, 0, 0, 0, null);
        for (BatchFormat fmt : BatchFormat.values()) {
            Path out = dir.resolve("out-" + fmt);
            try (ResultFile w = ResultFile.append(out, fmt, false)) {
                w.write(r);
                w.write(r.withId("y"));
            }
            long whole = Files.size(out);
            byte[] bytes = Files.readAllBytes(out);
            // cut the second record at every possible point: recovery keeps exactly the first
            long firstLen = fmt == BatchFormat.JSONL ? (BatchJson.resultLine(r) + "\n").getBytes(StandardCharsets.UTF_8).length
                    : BatchMessages.delimited(BatchMessages.toMessage(r)).length;
            for (long cut = firstLen; cut < whole; cut++) {
                Files.write(out, java.util.Arrays.copyOf(bytes, (int) cut));
                ResultFile.Recovered rec = ResultFile.recover(out, fmt);
                assertEquals(1, rec.results().size(), fmt + " cut at " + cut);
                assertEquals(firstLen, Files.size(out), fmt + " truncated to the whole record");
                assertEquals(cut - firstLen, rec.droppedBytes());
            }
            Files.write(out, bytes);
            assertEquals(2, ResultFile.recover(out, fmt).results().size());
        }
    }
}
