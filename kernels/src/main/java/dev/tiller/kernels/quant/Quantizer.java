package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Converts floats to a ggml tensor type, byte for byte in ggml's layout, following ggml's reference quantizers
 * ({@code quantize_row_*_ref}) so that llama.cpp reads back what we write.
 */
public final class Quantizer {

    /** True when {@link #quantize} can write this type. */
    public static boolean canQuantize(GGMLType type) {
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    /** Quantizes all of {@code src} (its length a multiple of the type's block size) into a new byte array. */
    public static byte[] quantize(GGMLType type, float[] src) {
        byte[] out = new byte[Math.toIntExact(checkedByteSize(type, src.length))];
        quantize(type, src, 0, src.length, MemorySegment.ofArray(out), 0);
        return out;
    }

    /** Quantizes {@code src[srcOffset .. srcOffset+n)} into {@code dst} at {@code dstOffset}. */
    public static void quantize(GGMLType type, float[] src, int srcOffset, int n, MemorySegment dst, long dstOffset) {
        long bytes = checkedByteSize(type, n);
        if (dstOffset < 0 || dstOffset + bytes > dst.byteSize()) {
            throw new IndexOutOfBoundsException(type + ": " + n + " elements need " + bytes + " bytes at offset " + dstOffset
                    + ", destination has " + dst.byteSize());
        }
        int blocks = n / type.blockSize;
        for (int b = 0; b < blocks; b++) {
            int x = srcOffset + b * type.blockSize;
            long o = dstOffset + (long) b * type.typeSize;
            switch (type) {
                case F32 -> dst.set(Simd.F32_LE, o, src[x]);
                case F16 -> dst.set(Simd.I16_LE, o, Float.floatToFloat16(src[x]));
                case BF16 -> dst.set(Simd.I16_LE, o, toBF16(src[x]));
                case Q8_0 -> BlockQuantizers.q8_0(src, x, dst, o);
                case Q4_0 -> BlockQuantizers.q4_0(src, x, dst, o);
                case Q4_1 -> BlockQuantizers.q4_1(src, x, dst, o);
                case Q5_0 -> BlockQuantizers.q5_0(src, x, dst, o);
                case Q5_1 -> BlockQuantizers.q5_1(src, x, dst, o);
                case Q4_K -> KQuantizers.q4_K(src, x, dst, o);
                case Q5_K -> KQuantizers.q5_K(src, x, dst, o);
                case Q6_K -> KQuantizers.q6_K(src, x, dst, o);
                default -> throw new AssertionError(type);
            }
        }
    }

    /** float32 to bfloat16 rounding to nearest even, NaNs kept quiet (ggml_compute_fp32_to_bf16). */
    public static short toBF16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7FFFFFFF) > 0x7F800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7FFF + ((u >>> 16) & 1))) >>> 16);
    }

    private static long checkedByteSize(GGMLType type, int n) {
        if (!canQuantize(type)) {
            throw new UnsupportedOperationException("cannot quantize to " + type + " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
        }
        if (n % type.blockSize != 0) {
            throw new IllegalArgumentException(type + ": " + n + " elements is not a multiple of the block size " + type.blockSize);
        }
        return type.byteSize(n);
    }

    static void putByte(MemorySegment dst, long offset, int value) {
        dst.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    }

    static void putHalf(MemorySegment dst, long offset, float value) {
        dst.set(Simd.I16_LE, offset, Float.floatToFloat16(value));
    }

    /** ggml's nearest_int: round half to even. */
    static int nearestInt(float f) {
        return (int) Math.rint(f);
    }

    private Quantizer() {}
}
