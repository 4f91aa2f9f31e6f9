package dev.tiller.engine.model;

import dev.tiller.kernels.VectorOps;
import dev.tiller.models.arch.RopeFrequencies;

/**
 * Rotation angles of RoPE: pair i of a head at position p turns by p times its {@link RopeFrequencies frequency}.
 * The cos/sin of each position are computed once and kept, growing with the longest position seen.
 */
final class RopeTable {
    private final ModelConfig c;
    private final int half;
    private final double[] freqs;
    // volatile: grow() publishes new tables while other threads may be reading the old ones
    private volatile float[][] cos = new float[0][];
    private volatile float[][] sin = new float[0][];

    RopeTable(ModelConfig c) {
        this.c = c;
        this.half = c.ropeDims() / 2;
        this.freqs = RopeFrequencies.inverse(c.ropeDims(), c.ropeTheta(), c.ropeFreqScale(), c.ropeFreqFactors());
    }

    void apply(float[] x, int off, int pos) {
        float[][] cs = cos;
        if (pos >= cs.length) {
            grow(pos + 1);
            cs = cos;
        }
        VectorOps.rope(x, off, cs[pos], sin[pos], c.ropeDims(), c.ropeNeox());
    }

    private synchronized void grow(int needed) {
        if (needed <= cos.length) return;
        int n = Math.max(needed, Math.min(c.contextLength(), Math.max(256, cos.length * 2)));
        n = Math.max(n, needed);
        float[][] nc = java.util.Arrays.copyOf(cos, n), ns = java.util.Arrays.copyOf(sin, n);
        for (int p = cos.length; p < n; p++) {
            nc[p] = new float[half];
            ns[p] = new float[half];
            for (int i = 0; i < half; i++) {
                double a = p * freqs[i];
                nc[p][i] = (float) Math.cos(a);
                ns[p][i] = (float) Math.sin(a);
            }
        }
        sin = ns; // publish sin first: readers check cos.length
        cos = nc;
    }
}
