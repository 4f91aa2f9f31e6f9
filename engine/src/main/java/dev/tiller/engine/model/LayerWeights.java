package dev.tiller.engine.model;

import dev.tiller.kernels.WeightMatrix;

/**
 * The weights of one transformer block, named after the GGUF tensors ({@code blk.L.*}). Matrices stay in the mapped
 * file; only the small norm and bias vectors are read into arrays. Biases, q/k norms and the sandwich norms
 * ({@code postAttnNorm}, {@code postFfwNorm}: gemma2) are null where the architecture has none.
 */
public record LayerWeights(
        float[] attnNorm,
        WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo,
        float[] bq, float[] bk, float[] bv,
        float[] qNorm, float[] kNorm,
        float[] postAttnNorm,
        float[] ffnNorm,
        WeightMatrix wGate, WeightMatrix wUp, WeightMatrix wDown,
        float[] postFfwNorm) {
}
