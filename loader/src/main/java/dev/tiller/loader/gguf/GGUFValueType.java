package dev.tiller.loader.gguf;

/** Metadata value types of GGUF, with their ids in the file. */
public enum GGUFValueType {
    UINT8(0, 1), INT8(1, 1), UINT16(2, 2), INT16(3, 2), UINT32(4, 4), INT32(5, 4), FLOAT32(6, 4),
    BOOL(7, 1), STRING(8, 8), ARRAY(9, 12), UINT64(10, 8), INT64(11, 8), FLOAT64(12, 8);

    public final int id;
    /** The fewest bytes one value of this type takes in a file (used to bound counts before allocating). */
    public final int minBytes;

    GGUFValueType(int id, int minBytes) {
        this.id = id;
        this.minBytes = minBytes;
    }

    public static GGUFValueType fromId(int id) {
        for (GGUFValueType t : values()) if (t.id == id) return t;
        return null;
    }
}
