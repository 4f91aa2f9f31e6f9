package dev.tiller.models.arch;

import static dev.tiller.models.arch.Weight.*;

/**
 * Llama 2/3/3.1/3.2, TinyLlama, SmolLM2, stories: the plain block (no biases, SiLU MLP). llama.cpp's
 * converter permutes Q and K rows so GGUF rotates adjacent pairs; Llama 3.1's rope scaling arrives as the
 * {@code rope_freqs.weight} tensor (GGUF) or the {@code rope_scaling} recipe (HF).
 */
public final class Llama {
    public static final Architecture ARCH = outputAndMlp(embeddingAndQkv(Architecture.builder("llama")
            .hf("LlamaForCausalLM", "llama")
            .ggufRope(RopeStyle.ADJACENT_PAIRS), false))
            .build();

    /**
     * The embedding and the llama block's weights up to Q, K and V, under the HF names qwen2 and qwen3 keep too:
     * {@code qkvBias} makes the Q, K and V biases required (qwen2) instead of optional (a few llama-family checkpoints
     * carry them).
     */
    static Architecture.Builder embeddingAndQkv(Architecture.Builder b, boolean qkvBias) {
        String a = "self_attn.";
        b.tensor(TOKEN_EMBD, "model.embed_tokens.weight")
                .optional(ROPE_FREQS, null)
                .tensor(ATTN_NORM, "input_layernorm.weight")
                .tensor(ATTN_Q, a + "q_proj.weight");
        bias(b, ATTN_Q_BIAS, a + "q_proj.bias", qkvBias);
        b.tensor(ATTN_K, a + "k_proj.weight");
        bias(b, ATTN_K_BIAS, a + "k_proj.bias", qkvBias);
        b.tensor(ATTN_V, a + "v_proj.weight");
        bias(b, ATTN_V_BIAS, a + "v_proj.bias", qkvBias);
        return b;
    }

    /** The llama block after Q, K, V (and qwen3's head norms): output projection, SwiGLU MLP, final norm, output. */
    static Architecture.Builder outputAndMlp(Architecture.Builder b) {
        return b.tensor(ATTN_OUTPUT, "self_attn.o_proj.weight")
                .tensor(FFN_NORM, "post_attention_layernorm.weight")
                .tensor(FFN_GATE, "mlp.gate_proj.weight")
                .tensor(FFN_UP, "mlp.up_proj.weight")
                .tensor(FFN_DOWN, "mlp.down_proj.weight")
                .tensor(OUTPUT_NORM, "model.norm.weight")
                .optional(OUTPUT, "lm_head.weight");
    }

    private static void bias(Architecture.Builder b, Weight w, String hfName, boolean required) {
        if (required) b.tensor(w, hfName);
        else b.optional(w, hfName);
    }

    private Llama() {}
}
