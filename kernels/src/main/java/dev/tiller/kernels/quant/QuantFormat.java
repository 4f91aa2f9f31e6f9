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
