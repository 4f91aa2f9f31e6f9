package dev.tiller.engine.model;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.loader.TensorSource;

import static dev.tiller.models.arch.Weight.*;

/**
 * All weights of a model, bound to their GGUF names and checked against the shapes its architecture's description
 * states ({@link WeightBinder}).
 */
public record ModelWeights(WeightMatrix tokenEmbedding, LayerWeights[] layers, float[] outputNorm, WeightMatrix output) {

    public static ModelWeights bind(ModelConfig c, TensorSource src) {
        WeightBinder b = new WeightBinder(c, src);
        WeightMatrix embd = b.matrix(TOKEN_EMBD, 0);
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            layers[l] = new LayerWeights(
                    b.vector(ATTN_NORM, l),
                    b.matrix(ATTN_Q, l), b.matrix(ATTN_K, l), b.matrix(ATTN_V, l), b.matrix(ATTN_OUTPUT, l),
                    b.vector(ATTN_Q_BIAS, l), b.vector(ATTN_K_BIAS, l), b.vector(ATTN_V_BIAS, l),
                    b.vector(ATTN_Q_NORM, l), b.vector(ATTN_K_NORM, l),
                    b.vector(POST_ATTN_NORM, l),
                    b.vector(FFN_NORM, l),
                    b.matrix(FFN_GATE, l), b.matrix(FFN_UP, l), b.matrix(FFN_DOWN, l),
                    b.vector(POST_FFW_NORM, l));
        }
        float[] outNorm = b.vector(OUTPUT_NORM, 0);
        WeightMatrix out = b.matrix(OUTPUT, 0);
        // tied embeddings: the unembedding reuses the token embedding matrix
        return new ModelWeights(embd, layers, outNorm, out == null ? embd : out);
    }
}
