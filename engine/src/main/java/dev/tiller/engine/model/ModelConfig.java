package dev.tiller.engine.model;

import dev.tiller.models.arch.Activation;
import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Sizes;
import dev.tiller.models.arch.Weight;

import java.util.ArrayList;
import java.util.List;

/**
 * The hyper-parameters of a loaded model. What its block looks like comes from {@code architecture} (the description
 * in {@code dev.tiller.models.arch}); the numbers here come from the file.
 *
 * @param headDim          size of one attention head (qwen3 and gemma2 set it independently of dim / nHeads)
 * @param ropeDims         how many dimensions of each head are rotated (usually headDim)
 * @param ropeNeox         rotate (i, i + ropeDims/2) pairs instead of adjacent pairs; true for Qwen and for llama weights
 *                         in HF layout, whose Q/K rows are not permuted the way llama.cpp's converter permutes them
 * @param ropeFreqFactors  per-pair divisors of the rotation frequency (Llama 3.1 "llama3" rope scaling), or null
 * @param ropeFreqScale    linear position scaling (1 / factor of "linear" rope scaling)
 * @param queryScale       what q·k is multiplied by: 1 / sqrt(headDim), or 1 / sqrt(query_pre_attn_scalar) (gemma2)
 * @param attnSoftcap      attention scores become cap · tanh(score / cap); 0 for none
 * @param finalSoftcap     logits become cap · tanh(logit / cap); 0 for none
 * @param slidingWindow    on the architecture's sliding layers, a query sees only keys less than this many positions
 *                         back; 0 for none
 * @param normWeightOffset added to every RMSNorm weight when binding: 1 for a gemma HF checkpoint (which stores w for
 *                         x · (1 + w)), 0 otherwise (GGUF stores the whole gain)
 */
public record ModelConfig(
        Architecture architecture,
        int dim,
        int layers,
        int heads,
        int kvHeads,
        int headDim,
        int ffnDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        int ropeDims,
        boolean ropeNeox,
        float[] ropeFreqFactors,
        float ropeFreqScale,
        float queryScale,
        float attnSoftcap,
        float finalSoftcap,
        int slidingWindow,
        float normWeightOffset) implements Sizes {

    @Override
    public int qDim() {
        return heads * headDim;
    }

    @Override
    public int kvDim() {
        return kvHeads * headDim;
    }

    /** What the token embeddings are multiplied by: sqrt(dim) in float32 for gemma (as HF rounds it), else 1. */
    public float embedScale() {
        return architecture.scaledEmbedding() ? (float) Math.sqrt(dim) : 1f;
    }

    /** The sliding window of layer {@code layer}, or 0 when it attends to every earlier position. */
    public int windowOf(int layer) {
        return slidingWindow > 0 && architecture.isSlidingLayer(layer) ? slidingWindow : 0;
    }

    /**
     * What this model's block does beyond the llama block (pre-norm RMSNorm, SwiGLU, plain attention), in words; empty
     * for llama, qwen2 and qwen3. Every forward (CPU, CUDA, training) now implements all of them; a forward that does not
     * implement one must refuse a model that lists it, naming it.
     */
    public List<String> beyondLlamaBlock() {
        List<String> f = new ArrayList<>();
        if (architecture.activation() != Activation.SILU) f.add(architecture.activation().hfName + " MLP");
        if (architecture.has(Weight.POST_ATTN_NORM) || architecture.has(Weight.POST_FFW_NORM)) {
            f.add("sandwich norms");
        }
        if (attnSoftcap > 0 || finalSoftcap > 0) f.add("logit soft-capping");
        if (slidingWindow > 0 && architecture.slidingWindowPeriod() > 0) f.add("sliding-window attention");
        if (embedScale() != 1f) f.add("scaled embeddings");
        if (queryScale != (float) (1.0 / Math.sqrt(headDim))) f.add("query_pre_attn_scalar");
        return f;
    }

    @Override
    public String toString() {
        return architecture.name() + " dim=" + dim + " layers=" + layers + " heads=" + heads + "/" + kvHeads + " head_dim=" + headDim
                + " ffn=" + ffnDim + " vocab=" + vocabSize + " ctx=" + contextLength + " rope_theta=" + ropeTheta
                + (ropeNeox ? " rope=neox" : " rope=normal") + (ropeFreqFactors != null ? " rope_freq_factors" : "")
                + (slidingWindow > 0 ? " sliding_window=" + slidingWindow : "")
                + (attnSoftcap > 0 ? " attn_softcap=" + attnSoftcap : "") + (finalSoftcap > 0 ? " final_softcap=" + finalSoftcap : "");
    }
}
