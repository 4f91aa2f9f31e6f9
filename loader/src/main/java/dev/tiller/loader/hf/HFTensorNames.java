package dev.tiller.loader.hf;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Maps Hugging Face tensor names of llama / qwen2 / qwen3 checkpoints to the names llama.cpp uses in GGUF
 * (and back). Names it does not know are kept as they are.
 */
public final class HFTensorNames {
    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern BLOCK = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    private static final Map<String, String> GLOBAL = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");

    /** Per-layer suffixes: HF {@code model.layers.N.<key>} → GGUF {@code blk.N.<value>}. */
    private static final Map<String, String> LAYER_SUFFIX = Map.ofEntries(
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.o_proj.bias", "attn_output.bias"),
            Map.entry("self_attn.q_norm.weight", "attn_q_norm.weight"),
            Map.entry("self_attn.k_norm.weight", "attn_k_norm.weight"),
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"),
            Map.entry("mlp.up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));

    private static final Map<String, String> GLOBAL_REVERSE = invert(GLOBAL);
    private static final Map<String, String> LAYER_SUFFIX_REVERSE = invert(LAYER_SUFFIX);

    private HFTensorNames() {}

    /** The GGUF name of an HF tensor, or the HF name itself when it is not a known llama/qwen tensor. */
    public static String toGguf(String hfName) {
        String g = GLOBAL.get(hfName);
        if (g != null) return g;
        Matcher m = LAYER.matcher(hfName);
        if (m.matches()) {
            String suffix = LAYER_SUFFIX.get(m.group(2));
            if (suffix != null) return "blk." + m.group(1) + "." + suffix;
        }
        return hfName;
    }

    /** The HF name of a GGUF tensor (inverse of {@link #toGguf}), or the name itself when unknown. */
    public static String toHf(String ggufName) {
        String g = GLOBAL_REVERSE.get(ggufName);
        if (g != null) return g;
        Matcher m = BLOCK.matcher(ggufName);
        if (m.matches()) {
            String suffix = LAYER_SUFFIX_REVERSE.get(m.group(2));
            if (suffix != null) return "model.layers." + m.group(1) + "." + suffix;
        }
        return ggufName;
    }

    private static Map<String, String> invert(Map<String, String> m) {
        Map<String, String> r = new java.util.HashMap<>();
        m.forEach((k, v) -> r.put(v, k));
        return Map.copyOf(r);
    }
}
