package dev.tiller.loader;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named tensor whose bytes live in a memory-mapped file (never on the Java heap).
 *
 * <p>Shapes use ggml's order: {@code ne[0]} is the innermost (contiguous) dimension. A weight matrix
 * {@code W} of a linear layer {@code y = W x} has {@code ne = [in, out]}: each of the {@code out}
 * rows holds {@code in} contiguous elements.
 *
 * @param source where the tensor comes from (file path), for error messages
 */
public record Tensor(String name, GGMLType type, long[] ne, MemorySegment data, String source) {

    public long elementCount() {
        long n = 1;
        for (long d : ne) n = Math.multiplyExact(n, d);
        return n;
    }

    public int dims() {
        return ne.length;
    }

    /** Size of dimension {@code i}, 1 for dimensions past the tensor's rank (as in ggml). */
    public long ne(int i) {
        return i < ne.length ? ne[i] : 1;
    }

    /** Number of rows: the product of all dimensions but the innermost. */
    public long rows() {
        long n = 1;
        for (int i = 1; i < ne.length; i++) n = Math.multiplyExact(n, ne[i]);
        return n; // not elementCount() / ne(0): a tensor may have a zero-length row

    }

    public String shapeString() {
        return Arrays.toString(ne);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + shapeString();
    }
}
