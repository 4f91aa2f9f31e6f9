package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

import java.lang.foreign.MemorySegment;

/**
 * Reads one ggml tensor type straight from mapped memory: dequantize a run of elements, or take its dot product
 * with a float vector without materializing the floats. {@code n} is always a multiple of the type's block size
 * and {@code byteOffset} points at the start of a block.
 */
public interface QuantFormat {

    GGMLType type();

    void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n);

    float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n);

    /**
     * As {@link #dot(MemorySegment, long, float[], int, int)}, given x's sums per 32 elements
     * ({@code sums[k]} = x[xOffset + 32k] + ... + x[xOffset + 32k + 31], see {@link BlockSums}). A matrix-vector
     * product computes them once for all its rows: formats that subtract a per-block offset (Q4_0's 8, the
     * K-quants' mins) then need sum(x) per block, and would otherwise add up the same x again for every row.
     * Formats without such a term ignore them.
     */
    default float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, float[] sums, int n) {
        return dot(src, byteOffset, x, xOffset, n);
    }

    /**
     * Four dot products with the same x (and its block sums, as for
     * {@link #dot(MemorySegment, long, float[], int, float[], int)}), of the rows at byte offsets {@code o0..o3}, into
     * {@code y[y0..y3]}. The rows are meant to lie far apart: decode is bound by how many cache misses are in flight,
     * and four independent streams keep about 1.5x as many as one (measured single-threaded from DRAM, Q8_0: 10.2
     * vs 6.8 GB/s). Formats without a four-row kernel take four single dots.
     */
    default void dot4(MemorySegment src, long o0, long o1, long o2, long o3, float[] x, int xOffset, float[] sums, int n,
                      float[] y, int y0, int y1, int y2, int y3) {
        y[y0] = dot(src, o0, x, xOffset, sums, n);
        y[y1] = dot(src, o1, x, xOffset, sums, n);
        y[y2] = dot(src, o2, x, xOffset, sums, n);
        y[y3] = dot(src, o3, x, xOffset, sums, n);
    }

    /** Whether {@link #dot(MemorySegment, long, float[], int, float[], int)} reads the block sums (else they may be null). */
    default boolean usesBlockSums() {
        return false;
    }

    /**
     * Whether {@link #dot4} is a real four-row kernel (interleaving the four rows block by block) rather than four
     * single dots. A matrix-vector product takes rows from four quarters of its range only for such formats; for
     * the others it reads rows in order, which keeps the hardware prefetcher on one stream (F16/BF16 from DRAM, two
     * threads: 20 GB/s in order against 12 GB/s from four quarters, MatVecBench rows=32768 cols=2048).
     */
    default boolean hasFourRowKernel() {
        return false;
    }

    /**
     * Whether the kernels read some stored values wrongly, so that a tensor must be checked with
     * {@link #firstUnreadable} before it is used (F16: the fast conversion turns infinities and NaNs into finite numbers).
     */
    default boolean checksValues() {
        return false;
    }

    /** Index of the first of {@code count} elements at the start of {@code src} the kernels cannot read, or -1. */
    default long firstUnreadable(MemorySegment src, long count) {
        return -1;
    }

    /** The format for a type, or an error naming {@code tensorName} when no kernel handles the type. */
    static QuantFormat of(GGMLType type, String tensorName) {
        QuantFormat f = QuantFormats.get(type);
        if (f == null) {
            throw new UnsupportedOperationException("tensor '" + tensorName + "' has type " + type + ", which this engine cannot compute with"
                    + " (supported: " + QuantFormats.supported() + ")");
        }
        return f;
    }
}
