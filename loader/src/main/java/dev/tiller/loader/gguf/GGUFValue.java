package dev.tiller.loader.gguf;

/**
 * A typed metadata value. Scalars are boxed Java values ({@code Byte, Short, Integer, Long} hold the raw bits of
 * unsigned types too); arrays are Java arrays: {@code byte[] short[] int[] long[] float[] double[] boolean[]
 * String[]}, and nested arrays are {@code GGUFValue[]}. {@code elementType} is set for arrays only.
 */
public record GGUFValue(GGUFValueType type, GGUFValueType elementType, Object value) {

    public static GGUFValue of(GGUFValueType type, Object value) {
        return new GGUFValue(type, null, value);
    }

    public static GGUFValue array(GGUFValueType elementType, Object array) {
        return new GGUFValue(GGUFValueType.ARRAY, elementType, array);
    }

    public static GGUFValue string(String s) {
        return of(GGUFValueType.STRING, s);
    }

    public static GGUFValue uint32(int v) {
        return of(GGUFValueType.UINT32, v);
    }

    public static GGUFValue float32(float v) {
        return of(GGUFValueType.FLOAT32, v);
    }

    /** The value as a long, for any integer type (unsigned types widened without sign). */
    public long asLong() {
        return switch (type) {
            case UINT8 -> ((Byte) value) & 0xFFL;
            case UINT16 -> ((Short) value) & 0xFFFFL;
            case UINT32 -> ((Integer) value) & 0xFFFFFFFFL;
            case INT8, INT16, INT32, INT64, UINT64 -> ((Number) value).longValue();
            case BOOL -> ((Boolean) value) ? 1 : 0;
            default -> throw new IllegalStateException("not an integer: " + type);
        };
    }

    public double asDouble() {
        return switch (type) {
            case FLOAT32, FLOAT64 -> ((Number) value).doubleValue();
            default -> asLong();
        };
    }

    public boolean isInteger() {
        return switch (type) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }

    @Override
    public String toString() {
        if (type == GGUFValueType.ARRAY) {
            int n = java.lang.reflect.Array.getLength(value);
            return "[" + elementType + " x " + n + "]";
        }
        return String.valueOf(value);
    }
}
