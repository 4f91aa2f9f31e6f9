package dev.tiller.engine.model;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;

/** All weights of a model, bound to their GGUF names and checked against the config's shapes. */
public record ModelWeights(WeightMatrix tokenEmbedding, LayerWeights[] layers, float[] outputNorm, WeightMatrix output) {

    public static ModelWeights bind(ModelConfig c, TensorSource src) {
        WeightMatrix embd = new WeightMatrix(src.tensor("token_embd.weight")).expect(c.vocabSize(), c.dim());
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int l = 0; l < c.layers(); l++) {
            String b = "blk." + l + ".";
            Architecture a = c.architecture();
            layers[l] = new LayerWeights(
                    vector(src, b + "attn_norm.weight", c.dim()),
                    matrix(src, b + "attn_q.weight", c.qDim(), c.dim()),
                    matrix(src, b + "attn_k.weight", c.kvDim(), c.dim()),
                    matrix(src, b + "attn_v.weight", c.kvDim(), c.dim()),
                    matrix(src, b + "attn_output.weight", c.dim(), c.qDim()),
                    a.qkvBias ? vector(src, b + "attn_q.bias", c.qDim()) : optionalVector(src, b + "attn_q.bias", c.qDim()),
                    a.qkvBias ? vector(src, b + "attn_k.bias", c.kvDim()) : optionalVector(src, b + "attn_k.bias", c.kvDim()),
                    a.qkvBias ? vector(src, b + "attn_v.bias", c.kvDim()) : optionalVector(src, b + "attn_v.bias", c.kvDim()),
                    a.qkNorm ? vector(src, b + "attn_q_norm.weight", c.headDim()) : null,
                    a.qkNorm ? vector(src, b + "attn_k_norm.weight", c.headDim()) : null,
                    vector(src, b + "ffn_norm.weight", c.dim()),
                    matrix(src, b + "ffn_gate.weight", c.ffnDim(), c.dim()),
                    matrix(src, b + "ffn_up.weight", c.ffnDim(), c.dim()),
                    matrix(src, b + "ffn_down.weight", c.dim(), c.ffnDim()));
        }
        float[] outNorm = vector(src, "output_norm.weight", c.dim());
        Tensor out = src.tensorOrNull("output.weight");
        // tied embeddings: the unembedding reuses the token embedding matrix
        WeightMatrix output = out == null ? embd : new WeightMatrix(out).expect(c.vocabSize(), c.dim());
        return new ModelWeights(embd, layers, outNorm, output);
    }

    private static WeightMatrix matrix(TensorSource src, String name, int rows, int cols) {
        return new WeightMatrix(src.tensor(name)).expect(rows, cols);
    }

    private static float[] optionalVector(TensorSource src, String name, int n) {
        return src.tensorOrNull(name) == null ? null : vector(src, name, n);
    }

    /** Small 1-D tensors (norm weights, biases) are read into arrays: a few KB, and read on every token. */
    private static float[] vector(TensorSource src, String name, int n) {
        Tensor t = src.tensor(name);
        if (t.elementCount() != n || t.ne(0) != n) {
            throw new ModelFormatException(src.describe() + ": tensor '" + name + "' has shape " + t.shapeString() + ", expected [" + n + "]");
        }
        float[] v = new float[n];
        QuantFormat.of(t.type(), name).dequantize(t.data(), 0, v, 0, n);
        return v;
    }
}
