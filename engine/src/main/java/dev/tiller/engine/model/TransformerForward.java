package dev.tiller.engine.model;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.model.PassOps.Buffer;
import dev.tiller.engine.model.PassOps.Saved;
import dev.tiller.models.arch.Activation;

/**
 * The forward pass of every {@link dev.tiller.models.arch.Architectures architecture} (llama, qwen2, qwen3, mistral,
 * gemma2), written once, readable top to bottom. What differs between families is read off the config and the bound
 * weights (a null bias or norm is a step the family does not have). Every intermediate that TransformerLens names
 * passes through {@link PassOps#site} under that name.
 *
 * <p>Three things run this code: the CPU's float32 inference ({@link Transformer}, with {@link CpuFloatOps} and a pass
 * over a {@code Batch} with KV caches), the GPU's inference ({@link CudaTransformer}, whose device pass is its ops and
 * its pass in one, holding a launch back where a fused kernel can do two ops at once), and training's differentiable
 * forward ({@code dev.tiller.steering.train.DiffTransformer}, with its {@code DiffOps} backends in float64 on the host
 * or float32 on the GPU, over packed sequences, keeping on its tape what the backward needs). The math is
 * {@link BlockOps}, what depends on the pass is {@link PassOps}.
 */
public final class TransformerForward<B> {
    private final ModelConfig c;
    private final ModelWeights w;
    private final BlockOps<B> ops;
    private final boolean gelu;

    public TransformerForward(ModelConfig config, ModelWeights weights, BlockOps<B> ops) {
        this.c = config;
        this.w = weights;
        this.ops = ops;
        this.gelu = config.architecture().activation() == Activation.GELU_TANH;
    }

    public ModelConfig config() {
        return c;
    }

    /** Embeddings, every block, then the final norm and the logits of the rows that want them. */
    public void forward(PassOps<B> p) {
        final int dim = c.dim();
        final float embedScale = c.embedScale();
        B x = p.buffer(Buffer.X, -1);                        // the residual stream

        p.embed(x);
        if (embedScale != 1f) ops.scale(x, embedScale);      // gemma: embeddings times sqrt(dim)
        p.prefix(x);
        p.site(HookSite.EMBED, -1, x);

        for (int l = 0; l < c.layers(); l++) {
            p.site(HookSite.RESID_PRE, l, x);
            p.keepCopy(Saved.X_PRE, l, x);
            block(p, l, x);
            p.blockDone(l);
        }
        p.blocksDone();

        // --- final norm and unembedding, only for the rows that want logits ---
        int rows = p.logitRows();
        if (rows == 0) return;
        B xo = p.gatherLogitRows(x);
        B xn = p.buffer(Buffer.XN_FINAL, -1);
        p.keep(Saved.RSTD_FINAL, -1, ops.rmsnorm(xn, xo, w.outputNorm(), rows, dim, c.rmsEps()));
        p.site(HookSite.LN_FINAL, -1, xn);
        B logits = p.buffer(Buffer.LOGITS, -1);
        ops.matmul(w.output(), xn, rows, logits);
        if (c.finalSoftcap() > 0) ops.softcap(logits, rows, c.vocabSize(), c.finalSoftcap());   // gemma2
        p.site(HookSite.LOGITS, -1, logits);
    }

    /**
     * Block l, from x = its (hooked) hook_resid_pre to x = its hook_resid_post, in place. The forward runs it once per
     * block; training's backward with checkpointing runs it again from the input it kept.
     */
    public void block(PassOps<B> p, int l, B x) {
        final int dim = c.dim(), n = p.rows();
        final float eps = c.rmsEps();
        LayerWeights lw = w.layers()[l];
        B xn = p.buffer(Buffer.XN, l);                       // normed input of a sub-block
        B attn = p.buffer(Buffer.ATTN, l);                   // attention-weighted values, heads concatenated
        B branch = p.buffer(Buffer.BRANCH, l);               // attn_out, then mlp_out

        // --- attention ---
        p.keep(Saved.RSTD_ATTN, l, ops.rmsnorm(xn, x, lw.attnNorm(), n, dim, eps));
        B q = p.buffer(Buffer.Q, l), k = p.buffer(Buffer.K, l), v = p.buffer(Buffer.V, l);
        ops.matmul(xn, n, lw.wq(), q, lw.wk(), k, lw.wv(), v);
        if (lw.bq() != null) ops.addBias(q, n, lw.bq());
        if (lw.bk() != null) ops.addBias(k, n, lw.bk());
        if (lw.bv() != null) ops.addBias(v, n, lw.bv());
        if (lw.qNorm() != null) {                            // qwen3: RMSNorm of each head, one weight for all heads
            p.keepCopy(Saved.Q_RAW, l, q);
            p.keep(Saved.RSTD_Q, l, ops.rmsnorm(q, q, lw.qNorm(), n * c.heads(), c.headDim(), eps));
        }
        if (lw.kNorm() != null) {
            p.keepCopy(Saved.K_RAW, l, k);
            p.keep(Saved.RSTD_K, l, ops.rmsnorm(k, k, lw.kNorm(), n * c.kvHeads(), c.headDim(), eps));
        }
        p.rope(q, c.heads());
        p.rope(k, c.kvHeads());
        p.attention(l, q, k, v, attn);
        ops.matmul(lw.wo(), attn, n, branch);
        if (lw.postAttnNorm() != null) {                     // gemma2's sandwich norm
            p.keepCopy(Saved.ATTN_RAW, l, branch);
            p.keep(Saved.RSTD_POST_ATTN, l, ops.rmsnorm(branch, branch, lw.postAttnNorm(), n, dim, eps));
        }
        p.site(HookSite.ATTN_OUT, l, branch);
        ops.add(x, branch);
        p.site(HookSite.RESID_MID, l, x);
        p.keepCopy(Saved.X_MID, l, x);

        // --- gated MLP: SwiGLU, or GeGLU (gemma2) ---
        p.keep(Saved.RSTD_FFN, l, ops.rmsnorm(xn, x, lw.ffnNorm(), n, dim, eps));
        B gate = p.buffer(Buffer.GATE, l), up = p.buffer(Buffer.UP, l);
        ops.matmul(xn, n, lw.wGate(), gate, lw.wUp(), up);
        B h = p.buffer(Buffer.H, l);
        if (gelu) ops.geluMul(h, gate, up);
        else ops.siluMul(h, gate, up);
        ops.matmul(lw.wDown(), h, n, branch);
        if (lw.postFfwNorm() != null) {
            p.keepCopy(Saved.FFN_RAW, l, branch);
            p.keep(Saved.RSTD_POST_FFN, l, ops.rmsnorm(branch, branch, lw.postFfwNorm(), n, dim, eps));
        }
        p.site(HookSite.MLP_OUT, l, branch);
        ops.add(x, branch);
        p.site(HookSite.RESID_POST, l, x);
    }
}
