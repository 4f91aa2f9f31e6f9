package dev.tiller.engine.model;

/**
 * The activation buffers of one forward pass, kept between passes so that decoding a token allocates nothing.
 * Buffers are sized exactly for the batch's row count (hooks see arrays of exactly rows x width), so they are
 * reused whenever consecutive passes have the same number of rows, as every decode step has. Not thread-safe: one
 * per thread or per session.
 */
public final class ForwardScratch {
    int rows = -1;
    float[] x, xn, q, k, v, attn, branch, gate, up;
    int[] outPos, outSeq;
    /** The pass over these buffers, bound to a batch for each forward. */
    final BatchPass pass = new BatchPass(this);

    /** Makes the buffers fit {@code n} rows of this model. */
    void ensure(ModelConfig c, int n) {
        if (n == rows && x.length == n * c.dim() && gate.length == n * c.ffnDim() && q.length == n * c.qDim() && k.length == n * c.kvDim()) return;
        x = new float[n * c.dim()];
        xn = new float[n * c.dim()];
        q = new float[n * c.qDim()];
        k = new float[n * c.kvDim()];
        v = new float[n * c.kvDim()];
        attn = new float[n * c.qDim()];
        branch = new float[n * c.dim()];
        gate = new float[n * c.ffnDim()];
        up = new float[n * c.ffnDim()];
        outPos = new int[n];
        outSeq = new int[n];
        rows = n;
    }
}
