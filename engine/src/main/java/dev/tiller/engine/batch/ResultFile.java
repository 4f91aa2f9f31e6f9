package dev.tiller.engine.batch;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The output file of a batch job: results are appended one record per write call and flushed at once, so a job killed
 * at any moment leaves whole records plus at most one partial last record. {@link #recover} drops that partial record
 * and returns the ones before it, so a rerun skips their ids.
 */
public final class ResultFile implements AutoCloseable {
    private final FileOutputStream out;
    private final FileChannel channel;
    private final BatchFormat format;
    private final boolean fsync;

    private ResultFile(Path path, BatchFormat format, boolean fsync) throws IOException {
        this.out = new FileOutputStream(path.toFile(), true);
        this.channel = out.getChannel();
        this.format = format;
        this.fsync = fsync;
    }

    /** Opens for appending (creating the file); call {@link #recover} first when resuming. */
    public static ResultFile append(Path path, BatchFormat format, boolean fsync) {
        try {
            return new ResultFile(path, format, fsync);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open " + path + " for writing: " + e.getMessage(), e);
        }
    }

    public synchronized void write(BatchResult r) {
        byte[] b = format == BatchFormat.JSONL
                ? (BatchJson.resultLine(r) + "\n").getBytes(StandardCharsets.UTF_8)
                : BatchMessages.delimited(BatchMessages.toMessage(r));
        try {
            out.write(b);   // FileOutputStream is unbuffered: one write call, the record reaches the OS now
            if (fsync) channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("writing a result: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            out.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** What {@link #recover} found. */
    public record Recovered(List<BatchResult> results, long droppedBytes) {}

    /**
     * Reads the complete records of an existing output file and truncates a partial last record (a JSONL line without
     * its newline or that does not parse, or a Protobuf record cut short). A missing file is empty.
     */
    public static Recovered recover(Path path, BatchFormat format) {
        if (!Files.exists(path)) return new Recovered(List.of(), 0);
        try {
            byte[] all = Files.readAllBytes(path);
            List<BatchResult> results = new ArrayList<>();
            long good = 0;
            if (format == BatchFormat.JSONL) {
                int start = 0;
                for (int i = 0; i < all.length; i++) {
                    if (all[i] != '\n') continue;
                    String line = new String(all, start, i - start, StandardCharsets.UTF_8);
                    if (!line.isBlank()) {
                        try {
                            results.add(BatchJson.parseResult(line));
                        } catch (IllegalArgumentException e) {
                            break; // a damaged line: it and everything after it are redone
                        }
                    }
                    start = i + 1;
                    good = start;
                }
            } else {
                InputStream in = new ByteArrayInputStream(all);
                while (true) {
                    byte[] rec;
                    try {
                        rec = BatchMessages.readDelimited(in);
                    } catch (EOFException | com.google.protobuf.InvalidProtocolBufferException e) {
                        break;
                    }
                    if (rec == null) break;
                    try {
                        results.add(BatchMessages.result(rec));
                    } catch (IllegalArgumentException e) {
                        break;
                    }
                    good = all.length - in.available();
                }
            }
            long dropped = all.length - good;
            if (dropped > 0) {
                try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
                    ch.truncate(good);
                    ch.force(true);
                }
            }
            return new Recovered(results, dropped);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** Every complete result of a file (for tests and tools), without changing it. */
    public static List<BatchResult> read(Path path, BatchFormat format) {
        try {
            Path copy = Files.createTempFile("tiller-results", ".tmp");
            try {
                Files.copy(path, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                return recover(copy, format).results();
            } finally {
                Files.deleteIfExists(copy);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
