package dev.tiller.engine.model;

/**
 * The transformer families the engine runs. All are pre-norm decoder-only blocks (RMSNorm → GQA attention with RoPE →
 * residual → RMSNorm → SwiGLU MLP → residual); they differ in small ways recorded here.
 */
public enum Architecture {
    /** Llama 2/3/3.1/3.2, Mistral, TinyLlama, SmolLM2, stories: no biases, adjacent-pair RoPE in GGUF layout. */
    LLAMA("llama", false, false),
    /** Qwen2 / Qwen2.5: biases on Q, K, V; NeoX RoPE; often tied embeddings. */
    QWEN2("qwen2", true, false),
    /** Qwen3: RMSNorm on each head of Q and K before RoPE; NeoX RoPE; head_dim set independently of n_embd. */
    QWEN3("qwen3", false, true);

    public final String ggufName;
    public final boolean qkvBias;
    public final boolean qkNorm;

    Architecture(String ggufName, boolean qkvBias, boolean qkNorm) {
        this.ggufName = ggufName;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
    }

    /** Maps GGUF {@code general.architecture} or HF {@code model_type}; null when unknown. */
    public static Architecture fromName(String name) {
        return switch (name) {
            case "llama", "mistral" -> LLAMA;
            case "qwen2" -> QWEN2;
            case "qwen3" -> QWEN3;
            default -> null;
        };
    }
}
