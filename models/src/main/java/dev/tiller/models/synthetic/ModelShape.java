package dev.tiller.models.synthetic;

/**
 * The hyperparameters of a decoder-only transformer of the llama family, enough to write its tensors and its
 * llama.cpp / Hugging Face configuration.
 *
 * @param arch         llama.cpp architecture name: {@code llama}, {@code qwen2} or {@code qwen3}
 * @param headDim      per-head size; may differ from {@code embd / heads} (qwen3)
 * @param vocab        vocabulary size (rows of the embedding)
 * @param tiedEmbeddings true when the output projection reuses {@code token_embd} (no {@code output.weight})
 * @param qkvBias      qwen2: Q, K and V projections have biases
 * @param qkNorm       qwen3: per-head RMS norms on Q and K
 * @param ropeScaling  llama 3 frequency scaling, or {@code null}
 */
public record ModelShape(String name, String arch, int embd, int layers, int heads, int kvHeads, int headDim, int ff,
                         int vocab, int contextLength, double ropeTheta, double rmsEps, boolean tiedEmbeddings,
                         boolean qkvBias, boolean qkNorm, Llama3RopeScaling ropeScaling, int bosTokenId, int eosTokenId) {

    public ModelShape {
        if (heads % kvHeads != 0) throw new IllegalArgumentException(name + ": " + heads + " heads not divisible by " + kvHeads + " KV heads");
        if (headDim % 2 != 0) throw new IllegalArgumentException(name + ": head_dim " + headDim + " must be even for RoPE");
    }

    /** llama 3.x rope_scaling ({@code rope_type: llama3}). */
    public record Llama3RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalContextLength) {}

    /** The same shape with another vocabulary size (e.g. the size of the tokenizer the model is written with). */
    public ModelShape withVocab(int newVocab) {
        return new ModelShape(name, arch, embd, layers, heads, kvHeads, headDim, ff, newVocab, contextLength, ropeTheta, rmsEps,
                tiedEmbeddings, qkvBias, qkNorm, ropeScaling, bosTokenId, eosTokenId);
    }

    /** True when head_dim is not embd / heads, so GGUF needs explicit key/value lengths. */
    public boolean explicitHeadDim() {
        return headDim * heads != embd;
    }
}
