package dev.tiller.engine.model;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.ThreadScratch;
import dev.tiller.kernels.VectorOps;
import dev.tiller.models.arch.Activation;

/**
 * The forward pass of every {@link dev.tiller.models.arch.Architectures architecture} (llama, qwen2, qwen3, gemma2),
 * readable top to bottom; what differs between families is read off the config and the bound weights (a null bias
 * or norm is a step the family does not have). It takes a run of tokens of one
 * sequence at consecutive positions (the whole prompt at once in prefill, one token in decode), appends their keys
 * and values to the cache, and returns logits. Every intermediate that TransformerLens names is passed to
 * {@link Hooks} under that name.
 */
public final class Transformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private final RopeTable rope;
    private final float embedScale;
    private final boolean gelu;

    public Transformer(ModelConfig config, ModelWeights weights) {
        this.c = config;
        this.w = weights;
        this.rope = new RopeTable(config);
        this.embedScale = config.embedScale();
        this.gelu = config.architecture().activation() == Activation.GELU_TANH;
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
    /** Fewest gate values per task of the MLP's activation (a decoded token's 4,864 stay on one thread). */
    private static final int ACTIVATION_CHUNK = 16 * 1024;
    private static final ThreadLocal<ForwardScratch> SCRATCH = ThreadLocal.withInitial(ForwardScratch::new);
    private static final ThreadScratch SCORES = new ThreadScratch();

    /** {@link #forward(Batch, Hooks, float[])} with buffers owned by the caller (see {@link ForwardScratch}). */
    public void forward(Batch b, Hooks hooks, float[] logits, ForwardScratch scratch) {
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim();
        final int n = b.size;
        checkBatch(b);
        final int[] pos = b.positions, seq = b.sequenceIds;

        scratch.ensure(c, n);                    // every buffer is fully overwritten before it is read
        float[] x = scratch.x;                   // the residual stream
        float[] xn = scratch.xn;                 // normed input of a sub-block
        float[] q = scratch.q;
        float[] k = scratch.k;
        float[] v = scratch.v;
        float[] attn = scratch.attn;             // attention-weighted values, heads concatenated
        float[] branch = scratch.branch;         // attn_out, then mlp_out
        float[] gate = scratch.gate;
        float[] up = scratch.up;

        for (int t = 0; t < n; t++) w.tokenEmbedding().dequantizeRow(b.tokens[t], x, t * dim);
        if (embedScale != 1f) VectorOps.scale(x, 0, n * dim, embedScale);   // gemma: embeddings times sqrt(dim)
        hooks.run(HookSite.EMBED, -1, x, n, dim, pos, seq);

        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            hooks.run(HookSite.RESID_PRE, l, x, n, dim, pos, seq);

            // --- attention ---
            for (int t = 0; t < n; t++) VectorOps.rmsnorm(xn, t * dim, x, t * dim, lw.attnNorm(), dim, c.rmsEps());
            MatMul.matmul(xn, n, lw.wq(), q, lw.wk(), k, lw.wv(), v);   // one input, one parallel job
            if (lw.bq() != null) addBias(q, lw.bq(), n);
            if (lw.bk() != null) addBias(k, lw.bk(), n);
            if (lw.bv() != null) addBias(v, lw.bv(), n);
            if (lw.qNorm() != null) normHeads(q, n * c.heads(), lw.qNorm());
            if (lw.kNorm() != null) normHeads(k, n * c.kvHeads(), lw.kNorm());
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < c.heads(); h++) rope.apply(q, t * qDim + h * c.headDim(), pos[t]);
                for (int h = 0; h < c.kvHeads(); h++) rope.apply(k, t * kvDim + h * c.headDim(), pos[t]);
                System.arraycopy(k, t * kvDim, b.caches[t].keys(l), pos[t] * kvDim, kvDim);
                System.arraycopy(v, t * kvDim, b.caches[t].values(l), pos[t] * kvDim, kvDim);
            }
            attention(b, l, q, attn);
            MatMul.matmul(lw.wo(), attn, n, branch);
            if (lw.postAttnNorm() != null) rmsnormRows(branch, n, lw.postAttnNorm());   // gemma2's sandwich norm
            hooks.run(HookSite.ATTN_OUT, l, branch, n, dim, pos, seq);
            VectorOps.add(x, 0, branch, 0, n * dim);
            hooks.run(HookSite.RESID_MID, l, x, n, dim, pos, seq);

            // --- gated MLP: SwiGLU, or GeGLU (gemma2) ---
            for (int t = 0; t < n; t++) VectorOps.rmsnorm(xn, t * dim, x, t * dim, lw.ffnNorm(), dim, c.rmsEps());
            MatMul.matmul(xn, n, lw.wGate(), gate, lw.wUp(), up);
            // element-wise, but a prompt's n x ffn values are worth both threads (one alone left the others waiting)
            Parallel.forRange(n * ffn, ACTIVATION_CHUNK, (from, to) -> {
                if (gelu) VectorOps.geluTanhMul(gate, from, up, from, to - from);
                else VectorOps.siluMul(gate, from, up, from, to - from);
            });
            MatMul.matmul(lw.wDown(), gate, n, branch);
            if (lw.postFfwNorm() != null) rmsnormRows(branch, n, lw.postFfwNorm());
            hooks.run(HookSite.MLP_OUT, l, branch, n, dim, pos, seq);
            VectorOps.add(x, 0, branch, 0, n * dim);
            hooks.run(HookSite.RESID_POST, l, x, n, dim, pos, seq);
        }
        for (int t = 0; t < n; t++) b.caches[t].setLength(Math.max(b.caches[t].length(), pos[t] + 1));

        // --- final norm and unembedding, only for the rows that want logits ---
        int rows = 0;
        int[] outPos = scratch.outPos, outSeq = scratch.outSeq;
        for (int t = 0; t < n; t++) {
            if (!b.logitsWanted[t]) continue;
            VectorOps.rmsnorm(xn, rows * dim, x, t * dim, w.outputNorm(), dim, c.rmsEps());
            outPos[rows] = pos[t];
            outSeq[rows] = seq[t];
            rows++;
        }
        if (rows == 0) return;
        hooks.run(HookSite.LN_FINAL, -1, xn, rows, dim, outPos, outSeq);
        MatMul.matmul(w.output(), xn, rows, logits);
        if (c.finalSoftcap() > 0) VectorOps.softcap(logits, 0, rows * c.vocabSize(), c.finalSoftcap());
        hooks.run(HookSite.LOGITS, -1, logits, rows, c.vocabSize(), outPos, outSeq);
    }

    /** Rejects what would corrupt a cache ({@link Batch#validate}), then grows each cache to hold the batch. */
    private void checkBatch(Batch b) {
        for (var e : b.validate(c.vocabSize()).entrySet()) e.getKey().ensure(e.getValue());
    }

    /** RMSNorm of each of the n rows of y in place. */
    private void rmsnormRows(float[] y, int n, float[] weight) {
        int dim = c.dim();
        for (int t = 0; t < n; t++) VectorOps.rmsnorm(y, t * dim, y, t * dim, weight, dim, c.rmsEps());
    }

    private static void addBias(float[] y, float[] bias, int n) {
        for (int t = 0; t < n; t++) VectorOps.add(y, t * bias.length, bias, 0, bias.length);
    }

    /** Qwen3: RMSNorm over each head vector of Q or K, with one weight shared by all heads. */
    private void normHeads(float[] y, int headRows, float[] weight) {
        int hd = c.headDim();
        for (int r = 0; r < headRows; r++) VectorOps.rmsnorm(y, r * hd, y, r * hd, weight, hd, c.rmsEps());
    }

    /**
     * Causal grouped-query attention: the row at position p, head h, attends to positions 0..p of its sequence's
     * cached keys of KV head h / (heads / kvHeads): softmax(q·k · queryScale) weighted sum of v. On a sliding layer
     * (gemma2's even layers) only the last {@code window} positions; with a soft-cap (gemma2) the scores are
     * cap · tanh(score / cap) before the softmax.
     */
    private void attention(Batch b, int layer, float[] q, float[] out) {
        final int hd = c.headDim(), heads = c.heads(), qDim = c.qDim(), kvDim = c.kvDim();
        final int group = heads / c.kvHeads();
        final float scale = c.queryScale();
        final float cap = c.attnSoftcap();
        final int window = c.windowOf(layer);
        int maxPos = 0;
        for (int t = 0; t < b.size; t++) maxPos = Math.max(maxPos, b.positions[t]);
        final int scoresCapacity = (maxPos + 1 + 1023) & ~1023;   // steps of 1024 scores: no reallocation per decoded token
        Parallel.forRange(b.size * heads, 4, (from, to) -> {
            float[] scores = SCORES.get(scoresCapacity);
            for (int i = from; i < to; i++) {
                int t = i / heads, h = i % heads;
                int pos = b.positions[t];
                int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
                int count = pos + 1 - first;
                float[] keys = b.caches[t].keys(layer), values = b.caches[t].values(layer);
                int qo = t * qDim + h * hd;
                int kvo = (h / group) * hd;
                for (int j = first; j <= pos; j++) scores[j - first] = VectorOps.dot(q, qo, keys, j * kvDim + kvo, hd) * scale;
                if (cap > 0) VectorOps.softcap(scores, 0, count, cap);
                VectorOps.softmax(scores, 0, count);
                java.util.Arrays.fill(out, qo, qo + hd, 0f);
                for (int j = first; j <= pos; j++) VectorOps.axpy(out, qo, scores[j - first], values, j * kvDim + kvo, hd);
            }
        });
    }
}
