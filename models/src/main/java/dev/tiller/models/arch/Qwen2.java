package dev.tiller.models.arch;

/** Qwen2 / Qwen2.5: the llama block with biases on Q, K and V, NeoX RoPE in GGUF too; often tied embeddings. */
public final class Qwen2 {
    public static final Architecture ARCH = Llama.outputAndMlp(Llama.embeddingAndQkv(Architecture.builder("qwen2")
            .hf("Qwen2ForCausalLM", "qwen2"), true))
            .build();

    private Qwen2() {}
}
