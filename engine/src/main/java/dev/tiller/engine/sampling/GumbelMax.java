package dev.tiller.engine.sampling;

/**
 * A draw from softmax(logits / T) as an argmax: token = argmax_i (z_i / T + g_i) with g_i = −log(−log u_i) Gumbel
 * noise, which picks token k with probability exactly softmax(z / T)_k. An argmax is what a GPU can take over a 152k
 * row where the row lies (the kernel {@code pick_rows} computes this very function), so a sampled decode step copies
 * one id back instead of the row, and no host thread exponentiates 152k logits per sequence per step.
 *
 * <p>The noise is a pure function of a 64-bit key and the token index (u_i from a SplitMix64 hash of key + i·φ), so a
 * draw is reproducible: the sampler supplies one key per step from its seeded stream ({@link Sampler#nextKey}), and the
 * host and the device pick the same token from the same row.
 */
public final class GumbelMax {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    /** SplitMix64's finalizer: a 64-bit mix with full avalanche. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /**
     * u in (0, 1) from the top 23 bits of the hash of (key, i): (m + 0.5) · 2^−23 for m &lt; 2^23, exact in float (24
     * bits would round the top value up to 1, whose noise is infinite).
     */
    static float uniform(long key, int i) {
        long h = mix(key + (i + 1L) * GOLDEN);
        return ((h >>> 41) + 0.5f) * 0x1p-23f;
    }

    /** The Gumbel noise of token i under key: −log(−log u), each log in double rounded to float, as the kernel does. */
    public static float noise(long key, int i) {
        float a = (float) Math.log(uniform(key, i));
        return -(float) Math.log(-a);
    }

    /**
     * The drawn token of the row logits[offset .. offset + n): argmax of z_i · invTemperature + noise(key, i), the lowest
     * index winning ties, NaN logits never chosen (a row of NaNs gives 0).
     */
    public static int pick(float[] logits, int offset, int n, float invTemperature, long key) {
        int best = 0;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            float v = logits[offset + i] * invTemperature + noise(key, i);
            if (v > bestValue) {
                bestValue = v;
                best = i;
            }
        }
        return best;
    }

    private GumbelMax() {}
}
