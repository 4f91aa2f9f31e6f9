package dev.tiller.engine.model;

/**
 * The hyper-parameters of a loaded model.
 *
 * @param headDim        size of one attention head (qwen3 sets it independently of dim / nHeads)
 * @param ropeDims       how many dimensions of each head are rotated (usually headDim)
 * @param ropeNeox       rotate (i, i + ropeDims/2) pairs instead of adjacent pairs; true for Qwen and for llama weights
 *                       in HF layout, whose Q/K rows are not permuted the way llama.cpp's converter permutes them
 * @param ropeFreqFactors per-pair divisors of the rotation frequency (Llama 3.1 "llama3" rope scaling), or null
 * @param ropeFreqScale  linear position scaling (1 / factor of "linear" rope scaling)
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
        float ropeFreqScale) {

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    @Override
    public String toString() {
        return architecture.ggufName + " dim=" + dim + " layers=" + layers + " heads=" + heads + "/" + kvHeads + " head_dim=" + headDim
                + " ffn=" + ffnDim + " vocab=" + vocabSize + " ctx=" + contextLength + " rope_theta=" + ropeTheta
                + (ropeNeox ? " rope=neox" : " rope=normal") + (ropeFreqFactors != null ? " rope_freq_factors" : "");
    }
}
