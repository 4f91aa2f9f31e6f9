package dev.tiller.models.synthetic;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The model shapes {@link SyntheticModel} knows. Tiny ones exercise each architecture's features in tests; the others
 * copy the hyperparameters of real checkpoints (from their published config.json) for benchmarks at true size.
 */
public final class Presets {
    private static final Map<String, ModelShape> PRESETS = new LinkedHashMap<>();

    static {
        // tiny: GQA everywhere; untied output for llama so both code paths get exercised
        add(new ModelShape("tiny-llama", "llama", 64, 2, 4, 2, 16, 192, 256, 512, 10000.0, 1e-5,
                false, false, false, null, 1, 2));
        add(new ModelShape("tiny-qwen2", "qwen2", 64, 2, 4, 2, 16, 160, 256, 512, 1_000_000.0, 1e-6,
                true, true, false, null, 0, 1));
        // head_dim 32 while n_embd / n_head = 16, as Qwen3 does at scale (head_dim 128 with 1024 / 16)
        add(new ModelShape("tiny-qwen3", "qwen3", 64, 2, 4, 2, 32, 128, 256, 512, 1_000_000.0, 1e-6,
                true, false, true, null, 0, 1));
        // Qwen/Qwen2.5-0.5B
        add(new ModelShape("qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 151936, 32768, 1_000_000.0, 1e-6,
                true, true, false, null, 151643, 151643));
        // HuggingFaceTB/SmolLM2-135M
        add(new ModelShape("smollm2-135m", "llama", 576, 30, 9, 3, 64, 1536, 49152, 8192, 100_000.0, 1e-5,
                true, false, false, null, 0, 0));
        // meta-llama/Llama-3.2-1B
        add(new ModelShape("llama-3.2-1b", "llama", 2048, 16, 32, 8, 64, 8192, 128256, 131072, 500_000.0, 1e-5,
                true, false, false, new ModelShape.Llama3RopeScaling(32.0, 1.0, 4.0, 8192), 128000, 128001));
    }

    private static void add(ModelShape s) {
        PRESETS.put(s.name(), s);
    }

    private Presets() {}

    public static ModelShape get(String name) {
        ModelShape s = PRESETS.get(name);
        if (s == null) throw new IllegalArgumentException("unknown preset '" + name + "' (known: " + String.join(", ", PRESETS.keySet()) + ")");
        return s;
    }

    public static java.util.Set<String> names() {
        return PRESETS.keySet();
    }

    /** Tiny presets take their vocabulary size from the tokenizer they are written with; real ones keep theirs. */
    static boolean isTiny(ModelShape s) {
        return s.name().startsWith("tiny-");
    }
}
