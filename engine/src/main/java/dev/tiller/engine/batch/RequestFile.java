package dev.tiller.engine.batch;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads a request file. Bad input never stops the job: a malformed line is reported with its line number and
 * skipped, unknown fields are reported and ignored, a request with a bad field becomes an error result, and a
 * repeated id is reported and skipped (the first request with that id wins).
 */
public final class RequestFile {
    /** A JSONL request line longer than this is reported and skipped rather than read into memory (docs/hardening.md). */
    public static final int MAX_LINE_BYTES = 64 << 20;

    /**
     * @param requests  good requests in input order, ids unique
     * @param rejected  error results for requests whose id is known but whose fields are bad
     * @param problems  one message per malformed line, bad request, duplicate id and unknown field
     */
    public record Contents(List<BatchRequest> requests, List<BatchResult> rejected, List<String> problems, int malformed, int duplicates) {}

    public static Contents read(Path path, BatchFormat format) {
        try (InputStream in = Files.newInputStream(path)) {
            return read(in, format);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads requests from a stream (left open), for sources that are not local files (the Spark job reads through
     * Hadoop's file systems). Messages name the line or record; callers that read several files prefix the file.
     */
    public static Contents read(InputStream input, BatchFormat format) throws IOException {
        return read(input, format, "");
    }

    /** As {@link #read(InputStream, BatchFormat)}; a request without an id gets {@code missingIdPrefix} + its line (record) number. */
    public static Contents read(InputStream input, BatchFormat format, String missingIdPrefix) throws IOException {
        List<BatchRequest> requests = new ArrayList<>();
        List<BatchResult> rejected = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Map<String, Long> firstLine = new LinkedHashMap<>();
        int[] malformed = {0}, duplicates = {0};
        Consumer<BatchRequest> accept = r -> {
            Long first = firstLine.putIfAbsent(r.id(), r.line());
            if (first != null) {
                duplicates[0]++;
                problems.add(where(format) + r.line() + ": duplicate id '" + r.id() + "' (first on " + where(format) + first + ") skipped");
            } else {
                requests.add(r);
            }
        };
        {
            if (format == BatchFormat.JSONL) {
                // lines are decoded one by one, so a line that is not UTF-8 is reported and skipped like any malformed line
                {
                    InputStream raw = new BufferedInputStream(input);
                    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
                    long n = 0;
                    boolean tooLong = false;
                    while (true) {
                        int b = raw.read();
                        if (b >= 0 && b != '\n') {
                            if (buf.size() < MAX_LINE_BYTES) buf.write(b);
                            else tooLong = true;
                            continue;
                        }
                        if (b < 0 && buf.size() == 0) break;
                        n++;
                        byte[] bytes = buf.toByteArray();
                        buf.reset();
                        if (tooLong) {
                            tooLong = false;
                            malformed[0]++;
                            problems.add("line " + n + ": longer than " + MAX_LINE_BYTES + " bytes, skipped");
                            if (b < 0) break;
                            continue;
                        }
                        int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                        String line;
                        try {
                            line = StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes, 0, len)).toString();
                        } catch (java.nio.charset.CharacterCodingException e) {
                            malformed[0]++;
                            problems.add("line " + n + ": not valid UTF-8, skipped");
                            if (b < 0) break;
                            continue;
                        }
                        if (!line.isBlank()) {
                            try {
                                accept.accept(BatchJson.parseRequest(line, n, missingIdPrefix + n, problems::add));
                            } catch (BatchJson.BadRequest e) {
                                problems.add(e.getMessage());
                                if (firstLine.putIfAbsent(e.id, n) == null) rejected.add(BatchResult.error(e.id, e.getMessage()));
                                else duplicates[0]++;
                            } catch (BatchJson.MalformedLine e) {
                                malformed[0]++;
                                problems.add(e.getMessage());
                            }
                        }
                        if (b < 0) break;
                    }
                }
            } else {
                {
                    InputStream in = new BufferedInputStream(input);
                    long n = 0;
                    while (true) {
                        byte[] rec;
                        try {
                            rec = BatchMessages.readDelimited(in);
                        } catch (EOFException | com.google.protobuf.InvalidProtocolBufferException e) {
                            malformed[0]++;
                            problems.add("record " + (n + 1) + ": truncated (" + e.getMessage() + "); the rest of the file is ignored");
                            break;
                        }
                        if (rec == null) break;
                        n++;
                        try {
                            BatchRequest r = BatchMessages.request(rec, n, problems::add);
                            if (r.id().isEmpty()) r = r.withId(missingIdPrefix + n);
                            accept.accept(r);
                        } catch (IllegalArgumentException e) {
                            malformed[0]++;
                            problems.add(e.getMessage());
                        }
                    }
                }
            }
        }
        return new Contents(requests, rejected, problems, malformed[0], duplicates[0]);
    }

    private static String where(BatchFormat f) {
        return f == BatchFormat.JSONL ? "line " : "record ";
    }

    /** Writes requests in a format (for tests, tools, and converting JSONL to Protobuf). */
    public static void write(Path path, BatchFormat format, List<BatchRequest> requests) {
        try (var out = new java.io.BufferedOutputStream(Files.newOutputStream(path))) {
            for (BatchRequest r : requests) {
                if (format == BatchFormat.JSONL) out.write((BatchJson.requestLine(r) + "\n").getBytes(StandardCharsets.UTF_8));
                else BatchMessages.writeDelimited(out, BatchMessages.toMessage(r));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private RequestFile() {}
}
