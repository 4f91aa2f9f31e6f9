package dev.tiller.kernels.quant;

/**
 * Sums of an activation vector over consecutive 32-element blocks: the {@code sum(x)} factor of every format whose
 * values carry an offset ({@code (q - 8) d}, {@code d sc q - dmin m}). They depend on x alone, so a matrix-vector
 * product takes them once instead of once per row (ggml's Q8_K keeps the same sums, per 16, as {@code bsums}).
 */
public final class BlockSums {
    public static final int BLOCK = 32;

    /** sums[k] = x[off + 32k] + ... + x[off + 32k + 31] for the whole blocks of x[off, off + n). */
    public static float[] of(float[] x, int off, int n) {
        float[] sums = new float[n / BLOCK];
        for (int k = 0; k < sums.length; k++) {
            float s = 0;
            int o = off + k * BLOCK;
            for (int i = 0; i < BLOCK; i++) s += x[o + i];
            sums[k] = s;
        }
        return sums;
    }

    private BlockSums() {}
}
