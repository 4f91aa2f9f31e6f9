package dev.tiller.models.synthetic;

import dev.tiller.models.arch.Architectures;

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
        add(new ModelShape("tiny-llama", Architectures.LLAMA, 64, 2, 4, 2, 16, 192, 256, 512, 10000.0, 1e-5,
                false, null, null, 1, 2));
        add(new ModelShape("tiny-qwen2", Architectures.QWEN2, 64, 2, 4, 2, 16, 160, 256, 512, 1_000_000.0, 1e-6,
                true, null, null, 0, 1));
        // head_dim 32 while n_embd / n_head = 16, as Qwen3 does at scale (head_dim 128 with 1024 / 16)
        add(new ModelShape("tiny-qwen3", Architectures.QWEN3, 64, 2, 4, 2, 32, 128, 256, 512, 1_000_000.0, 1e-6,
                true, null, null, 0, 1));
        // gemma2's whole block at tiny size: head_dim 32 while n_embd / n_head = 16, and query_pre_attn_scalar 16 (as
        // gemma-2-27b scales by n_embd / n_head, not head_dim); a window of 4 so a 12-token test crosses it; caps
        // small enough that tanh bends the random model's scores and logits
        add(new ModelShape("tiny-gemma2", Architectures.GEMMA2, 64, 3, 4, 2, 32, 128, 256, 512, 10000.0, 1e-6,
                true, null, new ModelShape.Extras(4, 0.05, 0.2, 16), 2, 1));
        // Qwen/Qwen2.5-0.5B
        add(new ModelShape("qwen2.5-0.5b", Architectures.QWEN2, 896, 24, 14, 2, 64, 4864, 151936, 32768, 1_000_000.0, 1e-6,
                true, null, null, 151643, 151643));
        // Qwen/Qwen2.5-1.5B (and Qwen2.5-Math-1.5B, the bias-only RL steering paper's model)
        add(new ModelShape("qwen2.5-1.5b", Architectures.QWEN2, 1536, 28, 12, 2, 128, 8960, 151936, 32768, 1_000_000.0, 1e-6,
                true, null, null, 151643, 151643));
        // HuggingFaceTB/SmolLM2-135M
        add(new ModelShape("smollm2-135m", Architectures.LLAMA, 576, 30, 9, 3, 64, 1536, 49152, 8192, 100_000.0, 1e-5,
                true, null, null, 0, 0));
        // meta-llama/Llama-3.2-1B
        add(new ModelShape("llama-3.2-1b", Architectures.LLAMA, 2048, 16, 32, 8, 64, 8192, 128256, 131072, 500_000.0, 1e-5,
                true, new ModelShape.Llama3RopeScaling(32.0, 1.0, 4.0, 8192), null, 128000, 128001));
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
