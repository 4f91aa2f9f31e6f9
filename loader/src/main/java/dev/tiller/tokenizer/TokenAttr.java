package dev.tiller.tokenizer;

/**
 * Per-token attribute bits, mirroring llama.cpp's {@code llama_token_attr}. A GGUF {@code tokenizer.ggml.token_type}
 * value maps to exactly one of the type bits; LSTRIP/RSTRIP are added by model-specific rules.
 */
public final class TokenAttr {
    public static final int UNDEFINED = 0;
    public static final int UNKNOWN = 1 << 0;
    public static final int UNUSED = 1 << 1;
    public static final int NORMAL = 1 << 2;
    public static final int CONTROL = 1 << 3;
    public static final int USER_DEFINED = 1 << 4;
    public static final int BYTE = 1 << 5;
    public static final int LSTRIP = 1 << 7;
    public static final int RSTRIP = 1 << 8;

    private TokenAttr() {
    }

    /** Maps GGUF {@code tokenizer.ggml.token_type} (1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte). */
    public static int fromGgufTokenType(int type) {
        return switch (type) {
            case 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> UNDEFINED;
        };
    }
}
