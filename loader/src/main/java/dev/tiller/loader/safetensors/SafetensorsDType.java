package dev.tiller.loader.safetensors;

import dev.tiller.loader.GGMLType;

/**
 * The safetensors element types this project reads and writes, with their names in the header and the ggml type
 * their bytes correspond to (same bit layout, little-endian).
 */
public enum SafetensorsDType {
    F32("F32", GGMLType.F32),
    F16("F16", GGMLType.F16),
    BF16("BF16", GGMLType.BF16);

    /** Every dtype name the safetensors format defines, so that an unsupported one can be told from garbage. */
    static final java.util.Set<String> KNOWN_NAMES = java.util.Set.of(
            "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2",
            "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64", "C64");

    public final String headerName;
    public final GGMLType ggmlType;

    SafetensorsDType(String headerName, GGMLType ggmlType) {
        this.headerName = headerName;
        this.ggmlType = ggmlType;
    }

    public int byteSize() {
        return ggmlType.typeSize;
    }

    /** The dtype named in a header, or {@code null} when this project does not support it. */
    public static SafetensorsDType fromHeaderName(String name) {
        for (SafetensorsDType t : values()) if (t.headerName.equals(name)) return t;
        return null;
    }

    /** The dtype that stores a ggml type, or {@code null} for types safetensors cannot hold (the quantized ones). */
    public static SafetensorsDType fromGgml(GGMLType type) {
        for (SafetensorsDType t : values()) if (t.ggmlType == type) return t;
        return null;
    }
}
