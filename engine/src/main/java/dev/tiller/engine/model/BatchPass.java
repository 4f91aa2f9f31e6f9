package dev.tiller.engine.model;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.ThreadScratch;
import dev.tiller.kernels.VectorOps;

/**
 * Inference's side of {@link TransformerForward} on the CPU: the rows of a
 * {@link Batch}, each at its position with its sequence's {@link KVCache}, computed in a {@link ForwardScratch}'s
 * reused arrays, with the {@link Hooks} run at every site. It keeps nothing for a backward. One per scratch (per
 * thread), bound to a model and a batch for the length of one pass ({@link #start}, {@link #end}), so a decoded token
 * allocates nothing here.
 */
final class BatchPass implements PassOps<float[]> {
    private static final ThreadScratch SCORES = new ThreadScratch();

    private final ForwardScratch s;
    private ModelConfig c;
    private ModelWeights w;
    private RopeTable rope;
    private Batch b;
    private Hooks hooks;
    private float[] logits;
    private int outRows;

    BatchPass(ForwardScratch scratch) {
        this.s = scratch;
    }

    void start(ModelConfig config, ModelWeights weights, RopeTable rope, Batch batch, Hooks hooks, float[] logits) {
        this.c = config;
        this.w = weights;
        this.rope = rope;
        this.b = batch;
        this.hooks = hooks;
        this.logits = logits;
    }

    /** Lets go of the batch, hooks and logits (the scratch outlives the pass). */
    void end() {
        b = null;
        hooks = null;
        logits = null;
    }

    @Override
    public int rows() {
        return b.size;
    }

    @Override
    public float[] buffer(Buffer which, int layer) {
        return switch (which) {
            case X -> s.x;
            case XN, XN_FINAL -> s.xn;
            case Q -> s.q;
            case K -> s.k;
            case V -> s.v;
            case ATTN -> s.attn;
            case BRANCH -> s.branch;
            case GATE, H -> s.gate;     // the activation overwrites gate: nothing reads it afterwards
            case UP -> s.up;
            case LOGITS -> logits;
        };
    }

    @Override
    public void embed(float[] x) {
        int dim = c.dim();
        for (int t = 0; t < b.size; t++) w.tokenEmbedding().dequantizeRow(b.tokens[t], x, t * dim);
    }

    @Override
    public void site(HookSite site, int layer, float[] y) {
        if (hooks.isEmpty()) return;
        boolean out = site == HookSite.LN_FINAL || site == HookSite.LOGITS;   // the rows that want logits
        hooks.run(site, layer, y, out ? outRows : b.size, site == HookSite.LOGITS ? c.vocabSize() : c.dim(),
                out ? s.outPos : b.positions, out ? s.outSeq : b.sequenceIds);
    }

    @Override
    public void rope(float[] y, int heads) {
        int hd = c.headDim(), width = heads * hd;
        for (int t = 0; t < b.size; t++) {
            int pos = b.positions[t];
            for (int h = 0; h < heads; h++) rope.apply(y, t * width + h * hd, pos);
        }
    }

    /**
     * Each row's key and value go into its sequence's cache at its position before any row attends, so rows of one
     * sequence see each other causally. Then causal grouped-query attention: the row at position p, head h, attends to
     * positions 0..p of its sequence's cached keys of KV head h / (heads / kvHeads): softmax(q·k · queryScale)
     * weighted sum of v. On a sliding layer (gemma2's even layers) only the last {@code window} positions; with a
     * soft-cap (gemma2) the scores are cap · tanh(score / cap) before the softmax.
     */
    @Override
    public void attention(int layer, float[] q, float[] k, float[] v, float[] out) {
        final int hd = c.headDim(), heads = c.heads(), qDim = c.qDim(), kvDim = c.kvDim();
        final Batch b = this.b;
        for (int t = 0; t < b.size; t++) {
            System.arraycopy(k, t * kvDim, b.caches[t].keys(layer), b.positions[t] * kvDim, kvDim);
            System.arraycopy(v, t * kvDim, b.caches[t].values(layer), b.positions[t] * kvDim, kvDim);
        }
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

    @Override
    public void blocksDone() {
        for (int t = 0; t < b.size; t++) b.caches[t].setLength(Math.max(b.caches[t].length(), b.positions[t] + 1));
    }

    @Override
    public int logitRows() {
        int rows = 0;
        for (int t = 0; t < b.size; t++) {
            if (!b.logitsWanted[t]) continue;
            s.outPos[rows] = b.positions[t];
            s.outSeq[rows] = b.sequenceIds[t];
            rows++;
        }
        return outRows = rows;
    }

    /** x itself when every row wants logits (decode); else those rows copied into the free branch buffer (a prompt's last). */
    @Override
    public float[] gatherLogitRows(float[] x) {
        if (outRows == b.size) return x;
        int dim = c.dim(), r = 0;
        for (int t = 0; t < b.size; t++) if (b.logitsWanted[t]) System.arraycopy(x, t * dim, s.branch, r++ * dim, dim);
        return s.branch;
    }
}
