package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;

import java.util.function.BiFunction;

/**
 * Turns a row of floats into the bytes of a ggml type. F32, F16 and BF16 are built in; quantized types go through a
 * quantizer supplied by the caller (the kernels module's {@code Quantizer}), given as
 * {@code (type, row) -> bytes} where {@code row.length} is a multiple of the type's block size.
 */
final class RowEncoder {
    private final GGMLType type;
    private final BiFunction<GGMLType, float[], byte[]> quantizer;

    RowEncoder(GGMLType type, BiFunction<GGMLType, float[], byte[]> quantizer) {
        this.type = type;
        this.quantizer = quantizer;
        if (!isPlainFloat(type) && quantizer == null) {
            throw new IllegalArgumentException("writing " + type + " needs a quantizer (SyntheticModel.withQuantizer); built in: F32, F16, BF16");
        }
    }

    static boolean isPlainFloat(GGMLType t) {
        return t == GGMLType.F32 || t == GGMLType.F16 || t == GGMLType.BF16;
    }

    GGMLType type() {
        return type;
    }

    long rowBytes(int n) {
        return type.byteSize(n);
    }

    /** Encodes {@code row} into {@code out} (which holds {@link #rowBytes} bytes) and returns it. */
    byte[] encode(float[] row, byte[] out) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < row.length; i++) putInt(out, 4 * i, Float.floatToRawIntBits(row[i]));
            }
            case F16 -> {
                for (int i = 0; i < row.length; i++) putShort(out, 2 * i, Float.floatToFloat16(row[i]));
            }
            case BF16 -> {
                for (int i = 0; i < row.length; i++) putShort(out, 2 * i, toBf16(row[i]));
            }
            default -> {
                byte[] q = quantizer.apply(type, row);
                if (q.length != out.length) {
                    throw new IllegalStateException("quantizer returned " + q.length + " bytes for " + row.length + " values of " + type
                            + ", expected " + out.length);
                }
                return q;
            }
        }
        return out;
    }

    /** Round to nearest even, as PyTorch converts float32 to bfloat16; NaN stays NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    private static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
        b[off + 2] = (byte) (v >>> 16);
        b[off + 3] = (byte) (v >>> 24);
    }

    private static void putShort(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }
}
