package dev.tiller.models.arch;

/**
 * A hyper-parameter as the two file formats name it: the GGUF metadata key (after the {@code <architecture>.} prefix,
 * as llama.cpp writes it) and the Hugging Face {@code config.json} key. Keys every family has are {@link #common};
 * the others are read only for the families that list them ({@link Architecture#reads}).
 */
public enum ConfigKey {
    CONTEXT_LENGTH("context_length", "max_position_embeddings", true),
    EMBEDDING_LENGTH("embedding_length", "hidden_size", true),
    BLOCK_COUNT("block_count", "num_hidden_layers", true),
    FEED_FORWARD_LENGTH("feed_forward_length", "intermediate_size", true),
    HEAD_COUNT("attention.head_count", "num_attention_heads", true),
    HEAD_COUNT_KV("attention.head_count_kv", "num_key_value_heads", true),
    KEY_LENGTH("attention.key_length", "head_dim", true),
    /** Written next to the key length; the engine assumes values as wide as keys. */
    VALUE_LENGTH("attention.value_length", null, true),
    RMS_EPS("attention.layer_norm_rms_epsilon", "rms_norm_eps", true),
    ROPE_FREQ_BASE("rope.freq_base", "rope_theta", true),
    /** GGUF only: HF rotates the whole head. */
    ROPE_DIMENSION_COUNT("rope.dimension_count", null, true),
    /** GGUF: "none" or "linear"; HF: the {@code rope_scaling} object ({@code rope_type} linear or llama3). */
    ROPE_SCALING("rope.scaling.type", "rope_scaling", true),
    ROPE_SCALING_FACTOR("rope.scaling.factor", null, true),
    VOCAB_SIZE("vocab_size", "vocab_size", true),
    /** Keys look back at most this many positions (key j is seen from query i when i - j is less than it). */
    SLIDING_WINDOW("attention.sliding_window", "sliding_window", false),
    /** Attention scores become cap · tanh(score / cap). */
    ATTN_LOGIT_SOFTCAPPING("attn_logit_softcapping", "attn_logit_softcapping", false),
    /** Output logits become cap · tanh(logit / cap). */
    FINAL_LOGIT_SOFTCAPPING("final_logit_softcapping", "final_logit_softcapping", false),
    /**
     * Queries are scaled by 1 / sqrt(this) instead of 1 / sqrt(head_dim). llama.cpp's converter does not store it (its
     * gemma2 graph picks the scale by model size); the GGUF key here is Tiller's own, written by the synthetic writer
     * and read when present.
     */
    QUERY_PRE_ATTN_SCALAR("attention.query_pre_attn_scalar", "query_pre_attn_scalar", false);

    /** The key after {@code <architecture>.}, or null where GGUF has none. */
    public final String gguf;
    /** The config.json key, or null where HF has none. */
    public final String hf;
    public final boolean common;

    ConfigKey(String gguf, String hf, boolean common) {
        this.gguf = gguf;
        this.hf = hf;
        this.common = common;
    }

    /** The full GGUF metadata key of this parameter for {@code arch}, e.g. {@code gemma2.attention.sliding_window}. */
    public String ggufKey(Architecture arch) {
        return arch.name() + "." + gguf;
    }
}
