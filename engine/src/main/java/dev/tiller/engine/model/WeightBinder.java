package dev.tiller.engine.model;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;
import dev.tiller.models.arch.TensorSpec;
import dev.tiller.models.arch.Weight;

/**
 * Finds each weight of a model under the GGUF name its {@link Weight} has, as the architecture's description says it
 * must or may be there, and checks its shape. Errors name the file and the tensor.
 */
final class WeightBinder {
    private final ModelConfig c;
    private final TensorSource src;

    WeightBinder(ModelConfig c, TensorSource src) {
        this.c = c;
        this.src = src;
    }

    /** The tensor of {@code w} in block {@code layer}: null when the family has no such weight or an optional one is absent. */
    private Tensor find(Weight w, int layer) {
        TensorSpec spec = c.architecture().spec(w);
        if (spec == null) return null;
        String name = w.ggufName(layer);
        return spec.required() ? src.tensor(name) : src.tensorOrNull(name);
    }

    WeightMatrix matrix(Weight w, int layer) {
        Tensor t = find(w, layer);
        if (t == null) return null;
        long[] shape = w.shape(c);
        return new WeightMatrix(t).expect(Math.toIntExact(shape[0]), Math.toIntExact(shape[1]));
    }

    /**
     * Small 1-D tensors (norm weights, biases) are read into arrays: a few KB, and read on every token. Norm weights get
     * the config's offset (gemma HF checkpoints store w for x · (1 + w)).
     */
    float[] vector(Weight w, int layer) {
        Tensor t = find(w, layer);
        if (t == null) return null;
        int n = Math.toIntExact(w.shape(c)[0]);
        if (t.elementCount() != n || t.ne(0) != n) {
            throw new ModelFormatException(src.describe() + ": tensor '" + t.name() + "' has shape " + t.shapeString() + ", expected [" + n + "]");
        }
        float[] v = new float[n];
        QuantFormat.of(t.type(), t.name()).dequantize(t.data(), 0, v, 0, n);
        if (w.kind == Weight.Kind.NORM && c.normWeightOffset() != 0) {
            for (int i = 0; i < n; i++) v[i] += c.normWeightOffset();
        }
        return v;
    }
}
