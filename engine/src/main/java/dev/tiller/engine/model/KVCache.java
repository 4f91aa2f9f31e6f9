package dev.tiller.engine.model;

import java.util.Arrays;

/**
 * Keys and values of one sequence for every layer, position-major: entry {@code [layer][pos * kvDim + h * headDim + d]}.
 * Storage grows by doubling up to the context length, so a short chat does not reserve the full context.
 */
public final class KVCache {
    private final int layers;
    private final int kvDim;
    private final int maxPositions;
    private float[][] keys;
    private float[][] values;
    private int capacity;
    private int length;

    public KVCache(ModelConfig config, int maxPositions) {
        if (maxPositions < 1) throw new IllegalArgumentException("context size must be >= 1, got " + maxPositions);
        this.layers = config.layers();
        this.kvDim = config.kvDim();
        this.maxPositions = maxPositions;
        this.capacity = Math.min(maxPositions, 64);
        this.keys = new float[layers][capacity * kvDim];
        this.values = new float[layers][capacity * kvDim];
    }

    /** Positions held so far (the next token goes at this position). */
    public int length() {
        return length;
    }

    public int maxPositions() {
        return maxPositions;
    }

    /** Makes room for positions up to {@code end} (exclusive). */
    void ensure(int end) {
        if (end > maxPositions) {
            throw new IllegalStateException("context is full: position " + (end - 1) + " is past the context size " + maxPositions
                    + " (raise it with --ctx-size)");
        }
        if (end <= capacity) return;
        int cap = capacity;
        while (cap < end) cap = Math.min(maxPositions, cap * 2);
        for (int l = 0; l < layers; l++) {
            keys[l] = Arrays.copyOf(keys[l], cap * kvDim);
            values[l] = Arrays.copyOf(values[l], cap * kvDim);
        }
        capacity = cap;
    }

    float[] keys(int layer) {
        return keys[layer];
    }

    float[] values(int layer) {
        return values[layer];
    }

    void setLength(int length) {
        this.length = length;
    }

    /** Forgets positions from {@code position} on, so generation can restart from a shared prefix. */
    public void truncate(int position) {
        if (position < 0 || position > length) throw new IllegalArgumentException("cannot truncate to " + position + " of " + length);
        length = position;
    }

    public long bytesReserved() {
        return 2L * layers * capacity * kvDim * Float.BYTES;
    }
}
