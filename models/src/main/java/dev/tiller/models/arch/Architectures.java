package dev.tiller.models.arch;

import java.util.List;

/** The families Tiller runs, and their lookup by GGUF {@code general.architecture} or HF {@code model_type}. */
public final class Architectures {
    public static final Architecture LLAMA = Llama.ARCH;
    public static final Architecture QWEN2 = Qwen2.ARCH;
    public static final Architecture QWEN3 = Qwen3.ARCH;
    public static final Architecture GEMMA2 = Gemma2.ARCH;
    public static final Architecture MISTRAL = Mistral.ARCH;

    private static final List<Architecture> ALL = List.of(LLAMA, QWEN2, QWEN3, GEMMA2, MISTRAL);

    private Architectures() {}

    public static List<Architecture> all() {
        return ALL;
    }

    /** The family of GGUF {@code general.architecture = name}, or null. */
    public static Architecture byGgufName(String name) {
        for (Architecture a : ALL) if (a.name().equals(name)) return a;
        return null;
    }

    /** The family of HF {@code model_type}, or null. */
    public static Architecture byHfModelType(String type) {
        for (Architecture a : ALL) if (a.hfModelTypes().contains(type)) return a;
        return null;
    }

    /** The names the lookups accept, for error messages. */
    public static String supported() {
        StringBuilder s = new StringBuilder();
        for (Architecture a : ALL) {
            for (String t : a.hfModelTypes()) s.append(s.isEmpty() ? "" : ", ").append(t);
        }
        return s.toString();
    }
}
