package dev.tiller.engine.batch;

import java.nio.file.Path;
import java.util.Locale;

/** Record formats of batch input and output files. */
public enum BatchFormat {
    /** One JSON object per line. */
    JSONL,
    /** Length-delimited Protobuf records (tiller_batch.proto). */
    PROTO;

    /** By extension: {@code .pb .binpb .protobuf .delim} are Protobuf, anything else JSONL. */
    public static BatchFormat of(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".pb") || n.endsWith(".binpb") || n.endsWith(".protobuf") || n.endsWith(".delim") ? PROTO : JSONL;
    }

    public static BatchFormat parse(String s, Path p) {
        if (s == null || s.equals("auto")) return of(p);
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "jsonl", "json" -> JSONL;
            case "proto", "protobuf", "pb" -> PROTO;
            default -> throw new IllegalArgumentException("unknown format '" + s + "' (jsonl, proto or auto)");
        };
    }
}
