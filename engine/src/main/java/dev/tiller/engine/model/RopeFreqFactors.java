package dev.tiller.engine.model;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.models.arch.Weight;

/**
 * Reads Llama 3.1-style RoPE scaling factors from GGUF's {@code rope_freqs.weight} tensor, checking their count. HF
 * configs give the recipe instead, which {@link dev.tiller.models.arch.RopeFrequencies#llama3Factors} turns into the
 * same factors.
 */
public final class RopeFreqFactors {

    public static float[] fromTensor(Tensor t, int ropeDims, String source) {
        if (t == null) return null;
        if (t.elementCount() != ropeDims / 2) {
            throw new ModelFormatException(source + ": tensor '" + Weight.ROPE_FREQS.ggufName(0) + "' has " + t.elementCount() + " elements, expected " + ropeDims / 2);
        }
        float[] f = new float[ropeDims / 2];
        QuantFormat.of(t.type(), t.name()).dequantize(t.data(), 0, f, 0, f.length);
        return f;
    }

    private RopeFreqFactors() {}
}
