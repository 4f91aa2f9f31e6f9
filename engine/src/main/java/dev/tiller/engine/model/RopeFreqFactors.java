package dev.tiller.engine.model;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;

/**
 * Llama 3.1-style RoPE scaling: each rotation frequency is divided by a factor that is 1 for high frequencies, the
 * scaling factor for low frequencies, and interpolated between. GGUF stores the factors as tensor
 * {@code rope_freqs.weight}; HF configs give the recipe ({@code rope_scaling.rope_type = llama3}).
 */
public final class RopeFreqFactors {

    public static float[] fromTensor(Tensor t, int ropeDims, String source) {
        if (t == null) return null;
        if (t.elementCount() != ropeDims / 2) {
            throw new ModelFormatException(source + ": tensor 'rope_freqs.weight' has " + t.elementCount() + " elements, expected " + ropeDims / 2);
        }
        float[] f = new float[ropeDims / 2];
        QuantFormat.of(t.type(), t.name()).dequantize(t.data(), 0, f, 0, f.length);
        return f;
    }

    /** The factors of HF's "llama3" rope_type, computed as llama.cpp's converter does. */
    public static float[] llama3(int ropeDims, double theta, double factor, double lowFreqFactor, double highFreqFactor, double originalContext) {
        double lowFreqWavelen = originalContext / lowFreqFactor;
        double highFreqWavelen = originalContext / highFreqFactor;
        float[] out = new float[ropeDims / 2];
        for (int i = 0; i < out.length; i++) {
            double freq = 1.0 / Math.pow(theta, 2.0 * i / ropeDims);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highFreqWavelen) {
                out[i] = 1f;
            } else if (wavelen > lowFreqWavelen) {
                out[i] = (float) factor;
            } else {
                double smooth = (originalContext / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                out[i] = (float) (1.0 / ((1 - smooth) / factor + smooth));
            }
        }
        return out;
    }

    private RopeFreqFactors() {}
}
