package dev.tiller.models.synthetic;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Seeded random values for one tensor, row by row. Every row has its own generator derived from
 * (model seed, HF tensor name, row index), so rows can be produced in any order (the GGUF llama writer reads Q/K rows
 * permuted) and the bytes depend only on the seed, never on the output format or on what else is written.
 */
final class WeightGenerator {
    static final double WEIGHT_STD = 0.02;
    static final double NORM_STD = 0.1;

    private final long tensorSeed;
    private final TensorPlan.Init init;

    WeightGenerator(long modelSeed, String tensorName, TensorPlan.Init init) {
        this.tensorSeed = mix(modelSeed ^ fnv1a(tensorName));
        this.init = init;
    }

    /** Fills {@code dst} with the values of HF row {@code row} (row 0 for 1-D tensors). */
    void row(long row, float[] dst) {
        SplittableRandom rng = new SplittableRandom(mix(tensorSeed + 0x9E3779B97F4A7C15L * (row + 1)));
        switch (init) {
            case WEIGHT, BIAS -> { for (int i = 0; i < dst.length; i++) dst[i] = (float) (WEIGHT_STD * rng.nextGaussian()); }
            case NORM -> { for (int i = 0; i < dst.length; i++) dst[i] = (float) (1.0 + NORM_STD * rng.nextGaussian()); }
        }
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** splitmix64 finalizer: spreads nearby seeds over the whole 64-bit space. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
