package dev.tiller.models.arch;

/**
 * RoPE's rotation frequencies, the one place they are computed: pair i of a head at position p turns by
 * {@code p · freqScale · theta^(-2i / ropeDims) / factor_i}. The CPU forward, the float64 training forward and the
 * CUDA forward (which uploads this table) all take them from here, so they rotate alike.
 */
public final class RopeFrequencies {
    private RopeFrequencies() {}

    /**
     * The inverse wavelengths of the {@code ropeDims / 2} rotated pairs.
     *
     * @param freqScale linear position scaling (1 / factor of "linear" rope scaling), 1 for none
     * @param factors   per-pair divisors (Llama 3.1's "llama3" scaling, {@link #llama3Factors}), or null
     */
    public static double[] inverse(int ropeDims, double theta, double freqScale, float[] factors) {
        double[] f = new double[ropeDims / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = freqScale * Math.pow(theta, -2.0 * i / ropeDims);
            if (factors != null) f[i] /= factors[i];
        }
        return f;
    }

    /**
     * Llama 3.1's per-pair divisors (HF {@code rope_scaling.rope_type = llama3}; in GGUF the tensor
     * {@code rope_freqs.weight}): 1 for wavelengths shorter than {@code originalContext / highFreqFactor},
     * {@code factor} for those longer than {@code originalContext / lowFreqFactor}, interpolated between. Computed as
     * llama.cpp's converter computes them (frequencies in float32), so a factor read from an HF config equals the one a
     * converted GGUF file stores.
     */
    public static float[] llama3Factors(int ropeDims, double theta, double factor, double lowFreqFactor, double highFreqFactor,
                                        double originalContext) {
        double lowFreqWavelen = originalContext / lowFreqFactor;
        double highFreqWavelen = originalContext / highFreqFactor;
        float[] out = new float[ropeDims / 2];
        for (int i = 0; i < out.length; i++) {
            float freq = (float) (1.0 / Math.pow(theta, (float) (2 * i) / ropeDims));
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
}
