package dev.tiller.models.arch;

import static dev.tiller.models.arch.Weight.ATTN_K_NORM;
import static dev.tiller.models.arch.Weight.ATTN_Q_NORM;

/**
 * Qwen3: the llama block with an RMSNorm on each head of Q and K before RoPE (one weight shared by the heads), NeoX
 * RoPE, and head_dim set independently of n_embd / n_head.
 */
public final class Qwen3 {
    public static final Architecture ARCH = Llama.outputAndMlp(Llama.embeddingAndQkv(Architecture.builder("qwen3")
            .hf("Qwen3ForCausalLM", "qwen3"), false)
            .tensor(ATTN_Q_NORM, "self_attn.q_norm.weight")
            .tensor(ATTN_K_NORM, "self_attn.k_norm.weight"))
            .build();

    private Qwen3() {}
}
