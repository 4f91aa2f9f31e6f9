package dev.tiller.engine.model;

import dev.tiller.engine.hooks.Hooks;

/**
 * The forward pass on the CPU in float32, for inference: {@link TransformerForward} (the one forward of every
 * {@link dev.tiller.models.arch.Architectures architecture}, which training runs too) with the engine's float32
 * kernels ({@link CpuFloatOps}) over a {@link Batch} ({@link BatchPass}: embeddings, RoPE at the rows' positions, the
 * KV caches, {@link Hooks} at every TransformerLens-named point). It takes rows of one or many sequences, appends their
 * keys and values to the caches, and returns logits.
 */
public final class Transformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final RopeTable rope;
    private final TransformerForward<float[]> forward;

    public Transformer(ModelConfig config, ModelWeights weights) {
        this.c = config;
        this.w = weights;
        this.rope = new RopeTable(config);
        this.forward = new TransformerForward<>(config, weights, CpuFloatOps.INSTANCE);
    }

    public ModelConfig config() {
        return c;
    }

    public ModelWeights weights() {
        return w;
    }

    /**
     * Runs {@code n} tokens of one sequence starting at the cache's current length.
     *
     * @param logits where logits go: [n][vocab] when {@code allLogits}, else [vocab] for the last token only
     */
    public void forward(int[] tokens, int n, KVCache cache, Hooks hooks, float[] logits, boolean allLogits) {
        forward(Batch.ofSequence(tokens, n, cache, 0, allLogits), hooks, logits);
    }

    /**
     * Runs the rows of a batch and writes [logitRows][vocab] logits for the rows that want them, in row order. Each
     * row's key and value go into its sequence's cache at its position before any row attends, so rows of one
     * sequence see each other causally.
     */
    public void forward(Batch b, Hooks hooks, float[] logits) {
        // Small batches (decode) reuse this thread's buffers; a long prompt's are dropped after its pass.
        ForwardScratch s = b.size <= MAX_KEPT_ROWS ? SCRATCH.get() : new ForwardScratch();
        forward(b, hooks, logits, s);
    }

    private static final int MAX_KEPT_ROWS = 16;
    private static final ThreadLocal<ForwardScratch> SCRATCH = ThreadLocal.withInitial(ForwardScratch::new);

    /** {@link #forward(Batch, Hooks, float[])} with buffers owned by the caller (see {@link ForwardScratch}). */
    public void forward(Batch b, Hooks hooks, float[] logits, ForwardScratch scratch) {
        checkBatch(b);
        scratch.ensure(c, b.size);               // every buffer is fully overwritten before it is read
        BatchPass p = scratch.pass;
        p.start(c, w, rope, b, hooks, logits);
        try {
            forward.forward(p);
        } finally {
            p.end();
        }
    }

    /** Rejects what would corrupt a cache ({@link Batch#validate}), then grows each cache to hold the batch. */
    private void checkBatch(Batch b) {
        for (var e : b.validate(c.vocabSize()).entrySet()) e.getKey().ensure(e.getValue());
    }
}
