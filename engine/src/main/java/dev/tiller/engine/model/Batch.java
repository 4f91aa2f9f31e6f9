package dev.tiller.engine.model;

import java.util.Arrays;

/**
 * The rows of one forward pass: each row is a token of some sequence at some position, with that sequence's KV cache.
 * A prompt prefill is n rows of one sequence at consecutive positions; a batched decode step is one row for each of
 * many sequences. Rows of one sequence must be in position order and continue that sequence's cache.
 *
 * <p>{@code sequenceIds} are the caller's tags for the sequences (e.g. request indices); hooks see them, so that one
 * batch can steer each sequence differently.
 */
public final class Batch {
    final int[] tokens;
    final int[] positions;
    final KVCache[] caches;
    final int[] sequenceIds;
    final boolean[] logitsWanted;
    int size;

    public Batch(int capacity) {
        tokens = new int[capacity];
        positions = new int[capacity];
        caches = new KVCache[capacity];
        sequenceIds = new int[capacity];
        logitsWanted = new boolean[capacity];
    }

    /** A batch of {@code tokens} appended to one sequence, with logits for the last row or for all. */
    public static Batch ofSequence(int[] tokens, int n, KVCache cache, int sequenceId, boolean allLogits) {
        Batch b = new Batch(n);
        int start = cache.length();
        for (int t = 0; t < n; t++) b.add(tokens[t], start + t, cache, sequenceId, allLogits || t == n - 1);
        return b;
    }

    public Batch add(int token, int position, KVCache cache, int sequenceId, boolean wantLogits) {
        if (size == tokens.length) throw new IllegalStateException("batch is full (" + size + " rows)");
        tokens[size] = token;
        positions[size] = position;
        caches[size] = cache;
        sequenceIds[size] = sequenceId;
        logitsWanted[size] = wantLogits;
        size++;
        return this;
    }

    public void clear() {
        Arrays.fill(caches, 0, size, null);
        size = 0;
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return tokens.length;
    }

    /**
     * The checks every forward pass makes before it touches a cache, so that every device rejects bad input with the
     * same error: an empty batch, token ids outside the vocabulary, a row that does not continue its sequence
     * (IllegalArgumentException), and a position past the cache's context size (IllegalStateException, "context is
     * full"). Returns the end position each cache will have after the batch.
     */
    public java.util.IdentityHashMap<KVCache, Integer> validate(int vocabSize) {
        if (size == 0) throw new IllegalArgumentException("empty batch");
        java.util.IdentityHashMap<KVCache, Integer> next = new java.util.IdentityHashMap<>();
        for (int t = 0; t < size; t++) {
            int tok = tokens[t];
            if (tok < 0 || tok >= vocabSize) {
                throw new IllegalArgumentException("token id " + tok + " at index " + t + " is outside the vocabulary [0, " + vocabSize + ")");
            }
            KVCache cache = caches[t];
            int expected = next.getOrDefault(cache, cache.length());
            if (positions[t] != expected) {
                throw new IllegalArgumentException("batch row " + t + " is at position " + positions[t] + " but its sequence continues at " + expected);
            }
            if (expected >= cache.maxPositions()) throw KVCache.contextFull(expected, cache.maxPositions());
            next.put(cache, expected + 1);
        }
        return next;
    }

    /** Rows whose logits the forward pass writes, in row order. */
    public int logitRows() {
        int n = 0;
        for (int i = 0; i < size; i++) if (logitsWanted[i]) n++;
        return n;
    }
}
