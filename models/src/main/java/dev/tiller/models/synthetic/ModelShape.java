package dev.tiller.models.synthetic;

import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Sizes;
import dev.tiller.models.arch.Weight;

/**
 * The hyperparameters of a decoder-only transformer of one of the {@link dev.tiller.models.arch.Architectures}, enough
 * to write its tensors and its llama.cpp / Hugging Face configuration. What the family's block looks like (biases,
 * head norms, sandwich norms) comes from {@code arch}; only sizes and settings live here.
 *
 * @param headDim        per-head size; may differ from {@code embd / heads} (qwen3, gemma2)
 * @param vocab          vocabulary size (rows of the embedding)
 * @param tiedEmbeddings true when the output projection reuses {@code token_embd} (no {@code output.weight})
 * @param ropeScaling    llama 3 frequency scaling, or {@code null}
 * @param extras         settings only some families read (sliding window, soft-caps, query scale)
 */
public record ModelShape(String name, Architecture arch, int embd, int layers, int heads, int kvHeads, int headDim, int ff,
                         int vocab, int contextLength, double ropeTheta, double rmsEps, boolean tiedEmbeddings,
                         Llama3RopeScaling ropeScaling, Extras extras, int bosTokenId, int eosTokenId) implements Sizes {

    public ModelShape {
        if (heads % kvHeads != 0) throw new IllegalArgumentException(name + ": " + heads + " heads not divisible by " + kvHeads + " KV heads");
        if (headDim % 2 != 0) throw new IllegalArgumentException(name + ": head_dim " + headDim + " must be even for RoPE");
        if (!tiedEmbeddings && !arch.has(Weight.OUTPUT)) throw new IllegalArgumentException(name + ": " + arch + " always ties its embeddings");
        if (extras == null) extras = Extras.NONE;
    }

    /** llama 3.x rope_scaling ({@code rope_type: llama3}). */
    public record Llama3RopeScaling(double factor, double lowFreqFactor, double highFreqFactor, int originalContextLength) {}

    /**
     * Settings of the families that read them (gemma2); zero means unset.
     *
     * @param slidingWindow       how far back the sliding-window layers look
     * @param attnLogitSoftcap    attention scores become cap · tanh(score / cap)
     * @param finalLogitSoftcap   logits become cap · tanh(logit / cap)
     * @param queryPreAttnScalar  queries are scaled by 1 / sqrt(this)
     */
    public record Extras(int slidingWindow, double attnLogitSoftcap, double finalLogitSoftcap, double queryPreAttnScalar) {
        public static final Extras NONE = new Extras(0, 0, 0, 0);
    }

    /** The same shape with another vocabulary size (e.g. the size of the tokenizer the model is written with). */
    public ModelShape withVocab(int newVocab) {
        return new ModelShape(name, arch, embd, layers, heads, kvHeads, headDim, ff, newVocab, contextLength, ropeTheta, rmsEps,
                tiedEmbeddings, ropeScaling, extras, bosTokenId, eosTokenId);
    }

    /** True when head_dim is not embd / heads, so GGUF needs explicit key/value lengths. */
    public boolean explicitHeadDim() {
        return headDim * heads != embd;
    }

    @Override
    public int dim() {
        return embd;
    }

    @Override
    public int qDim() {
        return heads * headDim;
    }

    @Override
    public int kvDim() {
        return kvHeads * headDim;
    }

    @Override
    public int ffnDim() {
        return ff;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int ropeDims() {
        return headDim;
    }
}
