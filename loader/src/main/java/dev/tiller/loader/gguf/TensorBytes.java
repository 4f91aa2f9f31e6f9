package dev.tiller.loader.gguf;

import java.io.IOException;
import java.io.OutputStream;

/**
 * Produces the bytes of one tensor on demand, so that the writers ({@link GGUFWriter},
 * {@link dev.tiller.loader.safetensors.SafetensorsWriter}) can stream a large model to disk one tensor at a time
 * without holding it in memory. It must write exactly the tensor's byte size; the writers check.
 */
@FunctionalInterface
public interface TensorBytes {
    void writeTo(OutputStream out) throws IOException;

    static TensorBytes of(byte[] bytes) {
        return out -> out.write(bytes);
    }

    /** Copies a mapped segment (e.g. a tensor of a file being read) in chunks, without one big heap array. */
    static TensorBytes of(java.lang.foreign.MemorySegment segment) {
        return out -> {
            byte[] buf = new byte[1 << 20];
            long n = segment.byteSize();
            for (long off = 0; off < n; off += buf.length) {
                int len = (int) Math.min(buf.length, n - off);
                java.lang.foreign.MemorySegment.copy(segment, java.lang.foreign.ValueLayout.JAVA_BYTE, off, buf, 0, len);
                out.write(buf, 0, len);
            }
        };
    }
}
