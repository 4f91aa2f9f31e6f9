package dev.tiller.models.synthetic;

/**
 * The per-frequency RoPE factors of llama 3.x's {@code rope_scaling} ({@code rope_type: llama3}), which llama.cpp's
 * converter stores as the tensor {@code rope_freqs.weight} (one factor per rotated pair) instead of metadata keys.
 */
final class Llama3RopeFactors {
    private Llama3RopeFactors() {}

    static float[] of(ModelShape s) {
        ModelShape.Llama3RopeScaling sc = s.ropeScaling();
        int dim = s.headDim();
        double lowFreqWavelen = sc.originalContextLength() / sc.lowFreqFactor();
        double highFreqWavelen = sc.originalContextLength() / sc.highFreqFactor();
        float[] factors = new float[dim / 2];
        for (int i = 0; i < factors.length; i++) {
            // the converter computes the frequencies in float32
            float freq = (float) (1.0 / Math.pow(s.ropeTheta(), (float) (2 * i) / dim));
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highFreqWavelen) factors[i] = 1f;
            else if (wavelen > lowFreqWavelen) factors[i] = (float) sc.factor();
            else {
                double smooth = (sc.originalContextLength() / wavelen - sc.lowFreqFactor()) / (sc.highFreqFactor() - sc.lowFreqFactor());
                factors[i] = (float) (1.0 / ((1 - smooth) / sc.factor() + smooth));
            }
        }
        return factors;
    }
}
