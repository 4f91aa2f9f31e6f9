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
    private final MemoryBudget.Reservation reservation; // null: unbudgeted

    public KVCache(ModelConfig config, int maxPositions) {
        this(config, maxPositions, null);
    }

    /**
     * A cache whose storage is reserved from {@code budget} (null for none) as it grows; a context that could never
     * fit in the budget is refused here, with a {@link MemoryBudgetExceededException}.
     */
    public KVCache(ModelConfig config, int maxPositions, MemoryBudget budget) {
        if (maxPositions < 1) throw new IllegalArgumentException("context size must be >= 1, got " + maxPositions);
        this.layers = config.layers();
        this.kvDim = config.kvDim();
        this.maxPositions = maxPositions;
        this.capacity = Math.min(maxPositions, 64);
        if ((long) maxPositions * kvDim > Integer.MAX_VALUE - 8) {
            throw new MemoryBudgetExceededException("a context of " + maxPositions + " positions needs KV arrays of " + (long) maxPositions * kvDim
                    + " elements per layer, over Java's array limit; use a smaller context", MemoryBudget.kvCacheBytes(config, maxPositions), 0);
        }
        if (budget != null) {
            long full = MemoryBudget.kvCacheBytes(config, maxPositions);
            if (full > budget.limit()) {
                throw new MemoryBudgetExceededException("a context of " + maxPositions + " positions needs " + MemoryBudget.format(full)
                        + " of KV cache, over the memory budget of " + MemoryBudget.format(budget.limit())
                        + "; use a smaller context or raise the budget (--mem-budget, -Dtiller.memBudget)", full, budget.limit());
            }
            this.reservation = budget.open(this);
            reservation.grow(bytesFor(capacity), "a KV cache of " + capacity + " positions");
        } else {
            this.reservation = null;
        }
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

    /** The error of every device when a sequence would grow past its context size. */
    static IllegalStateException contextFull(int position, int maxPositions) {
        return new IllegalStateException("context is full: position " + position + " is past the context size " + maxPositions
                + " (raise it with --ctx-size)");
    }

    /** Makes room for positions up to {@code end} (exclusive). */
    void ensure(int end) {
        if (end > maxPositions) throw contextFull(end - 1, maxPositions);
        if (end <= capacity) return;
        int cap = capacity;
        while (cap < end) cap = (int) Math.min(maxPositions, cap * 2L);
        if (reservation != null) reservation.grow(bytesFor(cap) - bytesFor(capacity), "growing the KV cache to " + cap + " positions");
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

    private long bytesFor(int positions) {
        return 2L * layers * positions * kvDim * Float.BYTES;
    }

    /** Returns this cache's reservation to its memory budget (the cache must not be used afterwards); idempotent. */
    public void releaseBudget() {
        if (reservation != null) reservation.close();
    }

    public long bytesReserved() {
        return 2L * layers * capacity * kvDim * Float.BYTES;
    }
}
