package dev.tiller.models.arch;

import static dev.tiller.models.arch.Weight.*;

/**
 * Gemma 2: GeGLU MLP (tanh GELU), sandwich norms (an RMSNorm after attention and after the MLP, before each joins the
 * residual), attention scores and output logits soft-capped ({@code cap · tanh(x / cap)}), a sliding window on the
 * even layers, embeddings multiplied by sqrt(dim), queries scaled by 1 / sqrt(query_pre_attn_scalar), tied embeddings.
 *
 * <p>Norm weights: HF's Gemma2RMSNorm computes {@code x · (1 + w)} and stores {@code w}; llama.cpp's converter adds 1
 * to every {@code *norm.weight} so GGUF stores {@code 1 + w} and runs a plain RMSNorm. Hence
 * {@link Architecture#hfNormOffset()} = 1.
 *
 * <p>Names: HF's {@code post_attention_layernorm} is the post-attention sandwich norm here ({@code
 * post_attention_norm} in GGUF), not the pre-MLP norm it is in llama; the pre-MLP norm is
 * {@code pre_feedforward_layernorm} ({@code ffn_norm}).
 */
public final class Gemma2 {
    public static final Architecture ARCH = Architecture.builder("gemma2")
            .hf("Gemma2ForCausalLM", "gemma2")
            .activation(Activation.GELU_TANH)
            .hfNormOffset(1f)
            .scaledEmbedding()
            .slidingWindowEvery(2)
            .reads(ConfigKey.SLIDING_WINDOW, ConfigKey.ATTN_LOGIT_SOFTCAPPING, ConfigKey.FINAL_LOGIT_SOFTCAPPING,
                    ConfigKey.QUERY_PRE_ATTN_SCALAR)
            .tensor(TOKEN_EMBD, "model.embed_tokens.weight")
            .tensor(ATTN_NORM, "input_layernorm.weight")
            .tensor(ATTN_Q, "self_attn.q_proj.weight")
            .tensor(ATTN_K, "self_attn.k_proj.weight")
            .tensor(ATTN_V, "self_attn.v_proj.weight")
            .tensor(ATTN_OUTPUT, "self_attn.o_proj.weight")
            .tensor(POST_ATTN_NORM, "post_attention_layernorm.weight")
            .tensor(FFN_NORM, "pre_feedforward_layernorm.weight")
            .tensor(FFN_GATE, "mlp.gate_proj.weight")
            .tensor(FFN_UP, "mlp.up_proj.weight")
            .tensor(FFN_DOWN, "mlp.down_proj.weight")
            .tensor(POST_FFW_NORM, "post_feedforward_layernorm.weight")
            .tensor(OUTPUT_NORM, "model.norm.weight")
            .build();

    /**
     * llama.cpp's query scale for a gemma2 GGUF, which does not store query_pre_attn_scalar: its graph scales by
     * 1 / sqrt(n_embd / n_head) for the 27B model (46 blocks) and by 1 / sqrt(head_dim) for the others, which is what
     * their config.json values say.
     */
    public static int defaultQueryPreAttnScalar(int blocks, int dim, int heads, int headDim) {
        return blocks == 46 ? dim / heads : headDim;
    }

    private Gemma2() {}
}
