package dev.tiller.loader.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Builds GGUF bytes field by field, independent of {@link GGUFWriter}, so tests can write exactly the (broken) file
 * they want.
 */
final class RawGGUF {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    RawGGUF u8(int v) { out.write(v); return this; }
    RawGGUF u32(long v) { for (int i = 0; i < 4; i++) out.write((int) (v >>> (8 * i)) & 0xFF); return this; }
    RawGGUF u64(long v) { for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)) & 0xFF); return this; }
    RawGGUF str(String s) { byte[] b = s.getBytes(StandardCharsets.UTF_8); u64(b.length); out.writeBytes(b); return this; }
    RawGGUF bytes(byte[] b) { out.writeBytes(b); return this; }

    /** Magic, version, counts. */
    RawGGUF header(int version, long tensors, long kvs) {
        return bytes("GGUF".getBytes(StandardCharsets.US_ASCII)).u32(version).u64(tensors).u64(kvs);
    }

    RawGGUF kvU32(String key, long v) { return str(key).u32(4).u32(v); }

    RawGGUF tensorInfo(String name, long[] ne, int type, long offset) {
        str(name).u32(ne.length);
        for (long d : ne) u64(d);
        return u32(type).u64(offset);
    }

    RawGGUF padTo(int alignment) {
        while (out.size() % alignment != 0) out.write(0);
        return this;
    }

    int size() { return out.size(); }

    byte[] build() { return out.toByteArray(); }
}
