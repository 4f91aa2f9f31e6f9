package dev.tiller.steering.train;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.engine.model.LayerWeights;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.models.arch.Activation;
import dev.tiller.models.arch.Weight;

import java.util.List;

/**
 * The differentiable forward pass of every architecture the engine runs (llama, qwen2, qwen3, mistral, and gemma2's
 * GeGLU, sandwich norms, soft-caps, sliding window and scaled embeddings), with the backward pass with respect to
 * <em>activations only</em>: every weight stays frozen and is read where the model keeps it, and the only gradients
 * produced are those of the steering parameters ({@link SteeringParams}). Written once against {@link DiffOps}: the
 * float64 host reference ({@link CpuDoubleOps}) and the GPU's float32 backend run this same code.
 *
 * <p>{@link #forward} mirrors {@link dev.tiller.engine.model.Transformer}'s forward op by op, with the same names;
 * {@link #backward} walks the same ops in reverse, each headed by the forward line it undoes. Sequences are
 * independent (own positions from 0, causal attention inside each), packed as rows ({@link Packing}): sequence s has
 * K prefix rows then its tokens.
 *
 * <p>Kept for the backward, per token row: for each layer the residual entering the block ({@code xPre}, dim) and
 * after attention ({@code xMid}, dim), q and k after RoPE (qDim + kvDim), v (kvDim), gate and up before SwiGLU
 * (2·ffn), two RMSNorm inverse-RMS scalars, and for qwen3 q and k before their head norms (qDim + kvDim) with one
 * scalar per head; then the final residual (dim). Everything else (normed inputs, attention probabilities, SwiGLU
 * output) is recomputed. See {@link #savedDoublesPerToken}.
 */
public final class DiffTransformer implements AutoCloseable {
    private final ModelConfig c;
    private final ModelWeights w;
    private final DiffOps ops;
    private final boolean gelu;

    /** On the host in float64 ({@link CpuDoubleOps}). */
    public DiffTransformer(ModelConfig config, ModelWeights weights) {
        this(config, weights, null);
    }

    /** With the given backend (null: the host in float64). */
    public DiffTransformer(ModelConfig config, ModelWeights weights, DiffOps ops) {
        this.c = config;
        this.w = weights;
        this.ops = ops != null ? ops : new CpuDoubleOps(config);
        this.gelu = config.architecture().activation() == Activation.GELU_TANH;
    }

    /** Block l's attention: gemma2 scales by query_pre_attn_scalar, soft-caps scores and slides a window on even layers. */
    private DiffOps.Attention attentionOf(int l) {
        return new DiffOps.Attention(c.queryScale(), c.attnSoftcap(), c.windowOf(l));
    }

    /**
     * For a loaded model: on the GPU in float32 ({@link CudaFloatOps}, reading the model's device weights) when the
     * model was loaded with {@link Device#CUDA}, else on the host in float64 with float32 products (about twice as fast
     * on wide models; see {@link CpuDoubleOps}).
     */
    public static DiffTransformer of(Model model) {
        return of(model, false);
    }

    /** As {@link #of(Model)}; with {@code exact} the host runs the products in float64 too (the reference). */
    public static DiffTransformer of(Model model, boolean exact) {
        DiffOps ops = model.device() == Device.CUDA ? new CudaFloatOps(model.config(), (CudaTransformer) model.forwardPass())
                : new CpuDoubleOps(model.config(), !exact);
        return new DiffTransformer(model.config(), model.weights(), ops);
    }

    public ModelConfig config() {
        return c;
    }

    /** Frees the backend's own memory (a GPU backend's scratch); the model's weights are the model's. */
    @Override
    public void close() {
        ops.close();
    }

    /** The backend the ops run on. */
    public DiffOps ops() {
        return ops;
    }

    /** When the blocks' activations are dropped after the forward and recomputed in the backward. */
    public enum Checkpointing {
        /** Never: every block keeps its activations (fastest). */
        OFF,
        /** Always: one block's input per token is kept; the backward runs each block's forward again (about +1/3 time). */
        ON,
        /** When keeping everything would take more than half of the backend's available memory. */
        AUTO
    }

    private Checkpointing checkpointing = Checkpointing.AUTO;

    public DiffTransformer checkpointing(Checkpointing mode) {
        this.checkpointing = mode;
        return this;
    }

    /** Whether a pass of {@code rows} token rows drops and recomputes the blocks' activations. */
    public boolean checkpoints(long rows) {
        return switch (checkpointing) {
            case OFF -> false;
            case ON -> true;
            case AUTO -> savedDoublesPerToken() * rows * ops.bytesPerNumber() > ops.availableBytes() / 2;
        };
    }

    /** Numbers kept per token row between forward and backward with checkpointing: each block's input, one block's rest. */
    public long checkpointedNumbersPerToken() {
        long all = savedDoublesPerToken(), perLayer = (all - c.dim() - 1) / c.layers();
        return (long) c.layers() * c.dim() + (perLayer - c.dim()) + c.dim() + 1;
    }

    /** Numbers kept per token row between forward and backward. */
    public long savedDoublesPerToken() {
        long perLayer = 2L * c.dim() + c.qDim() + 2L * c.kvDim() + 2L * c.ffnDim() + 2;
        if (c.architecture().has(Weight.ATTN_Q_NORM)) perLayer += c.qDim() + c.kvDim() + c.heads() + c.kvHeads();
        if (c.architecture().has(Weight.POST_ATTN_NORM)) perLayer += c.dim() + 1;
        if (c.architecture().has(Weight.POST_FFW_NORM)) perLayer += c.dim() + 1;
        return perLayer * c.layers() + c.dim() + 1;
    }

    /** One training sequence: its tokens, and which of them want logits (the prediction made at that token). */
    public record Sequence(int[] tokens, boolean[] wantLogits) {
        public Sequence {
            if (tokens.length == 0) throw new IllegalArgumentException("empty sequence");
            if (wantLogits.length != tokens.length) throw new IllegalArgumentException("wantLogits length differs from tokens");
        }
    }

    /**
     * What the forward pass keeps for the backward (backend buffers, freed by {@link #close}), and what it returns:
     * the logits of the wanted rows and the activations at the read point, on the host.
     */
    public final class Pass implements AutoCloseable {
        final SteeringParams params;
        final HookPoint read;
        final Packing pk;
        final int n, rowsOut;
        final int[] outRow;          // row index of each logits row
        final DiffOps.Buf[] xPre, xMid, q, k, v, gate, up, qRaw, kRaw;
        final DiffOps.Buf[] rstdAttn, rstdFfn, rstdQ, rstdK;
        final DiffOps.Buf[] attnRaw, ffnRaw, rstdPostAttn, rstdPostFfn;   // gemma2's sandwich norms: the branch before its norm
        DiffOps.Buf theta, xo, rstdFinal, readBuf, logitsBuf;
        /** Whether the blocks' activations are dropped after the forward and recomputed in the backward. */
        boolean checkpointed;
        /** Set while the backward runs a block again: the read point was read by the forward already. */
        boolean recomputing;
        private final java.util.ArrayList<DiffOps.Buf> held = new java.util.ArrayList<>();
        private double[] logits;
        /** [n][dim] activations at the read point (null when none), row order as {@link #row}. */
        public double[] readActs;

        Pass(SteeringParams params, HookPoint read, List<Sequence> seqs) {
            this.params = params;
            this.read = read;
            int K = params.prefixLength, wanted = 0;
            int[] lens = new int[seqs.size()];
            for (int s = 0; s < seqs.size(); s++) {
                lens[s] = K + seqs.get(s).tokens().length;
                for (boolean b : seqs.get(s).wantLogits()) if (b) wanted++;
            }
            pk = Packing.of(lens);
            n = pk.rows();
            rowsOut = wanted;
            outRow = new int[wanted];
            int o = 0;
            for (int s = 0; s < seqs.size(); s++) {
                boolean[] want = seqs.get(s).wantLogits();
                for (int t = 0; t < want.length; t++) if (want[t]) outRow[o++] = pk.seqStart()[s] + K + t;
            }
            int L = c.layers();
            xPre = new DiffOps.Buf[L]; xMid = new DiffOps.Buf[L]; q = new DiffOps.Buf[L]; k = new DiffOps.Buf[L]; v = new DiffOps.Buf[L];
            gate = new DiffOps.Buf[L]; up = new DiffOps.Buf[L]; qRaw = new DiffOps.Buf[L]; kRaw = new DiffOps.Buf[L];
            rstdAttn = new DiffOps.Buf[L]; rstdFfn = new DiffOps.Buf[L]; rstdQ = new DiffOps.Buf[L]; rstdK = new DiffOps.Buf[L];
            attnRaw = new DiffOps.Buf[L]; ffnRaw = new DiffOps.Buf[L]; rstdPostAttn = new DiffOps.Buf[L]; rstdPostFfn = new DiffOps.Buf[L];
        }

        /** Frees what block l kept for its backward except its input xPre (checkpointing). */
        void dropBlock(int l) {
            for (DiffOps.Buf[] a : List.of(xMid, q, k, v, gate, up, qRaw, kRaw, rstdAttn, rstdFfn, rstdQ, rstdK, attnRaw, ffnRaw, rstdPostAttn,
                    rstdPostFfn)) {
                ops.release(a[l]);
                held.remove(a[l]);
                a[l] = null;
            }
        }

        /** Keeps a buffer until {@link #close}. */
        DiffOps.Buf keep(DiffOps.Buf b) {
            if (b != null) held.add(b);
            return b;
        }

        public int rows() {
            return n;
        }

        /** Rows that want logits (the rows of {@link #logitsBuffer}). */
        public int logitRows() {
            return rowsOut;
        }

        /** [logitRows][vocab] where the backend holds them: losses run there ({@link DiffOps#logProbs} &amp;c.). */
        public DiffOps.Buf logitsBuffer() {
            return logitsBuf;
        }

        /** [logitRows][vocab] on the host, copied on first use (small models and tests; a big model's are gigabytes). */
        public double[] logits() {
            if (logits == null) logits = ops.download(logitsBuf);
            return logits;
        }

        /** Packed row of token t (0-based, not counting prefix rows) of sequence s. */
        public int row(int s, int t) {
            return pk.seqStart()[s] + params.prefixLength + t;
        }

        public int sequenceLength(int s) {
            return pk.seqLen()[s] - params.prefixLength;
        }

        /** Frees what the backward would need (device memory); logits and readActs stay. */
        @Override
        public void close() {
            for (DiffOps.Buf b : held) ops.release(b);
            held.clear();
        }
    }

    /**
     * Runs the sequences with the steering parameters applied. {@code read}: a point whose activations are kept in
     * {@link Pass#readActs} (after any bias at that point), or null.
     */
    public Pass forward(List<Sequence> seqs, SteeringParams sp, HookPoint read) {
        final int dim = c.dim();
        final float eps = c.rmsEps();
        if (sp.dim != dim) throw new IllegalArgumentException("steering vectors have width " + sp.dim + ", the model " + dim);
        Pass P = new Pass(sp, read, seqs);
        final int n = P.n;
        P.checkpointed = checkpoints(n);
        ops.begin();
        try {
            P.theta = P.keep(ops.upload(sp.theta));
            DiffOps.Buf x = P.keep(ops.zeros((long) n * dim));        // the residual stream
            Work work = new Work(n);
            try {
                // token embeddings; prefix rows are the prefix vectors themselves
                embed(P, seqs, x);
                site(P, HookSite.EMBED, -1, x);

                for (int l = 0; l < c.layers(); l++) {
                    site(P, HookSite.RESID_PRE, l, x);
                    P.xPre[l] = P.keep(ops.copy(x));
                    block(P, l, x, work);
                    // checkpointing: keep only the block's input; the backward runs the block again from it
                    if (P.checkpointed) P.dropBlock(l);
                }

                // --- final norm and unembedding, only for the rows that want logits ---
                P.xo = P.keep(ops.zeros((long) P.rowsOut * dim));
                ops.slices(P.xo, outputOffsets(P), x, rowOffsets(P.outRow), dim, false);
                DiffOps.Buf xno = ops.zeros((long) P.rowsOut * dim);
                P.logitsBuf = P.keep(ops.zeros((long) P.rowsOut * c.vocabSize()));
                try {
                    P.rstdFinal = P.keep(ops.rmsnorm(xno, P.xo, w.outputNorm(), P.rowsOut, dim, eps));
                    if (P.rowsOut > 0) ops.matmul(w.output(), xno, P.rowsOut, P.logitsBuf);
                    if (c.finalSoftcap() > 0) ops.softcap(P.logitsBuf, c.finalSoftcap());   // gemma2
                } finally {
                    ops.release(xno);
                }
                if (P.readBuf != null) P.readActs = ops.download(P.readBuf);
            } finally {
                work.close();
            }
        } catch (RuntimeException | Error e) {
            P.close();
            throw e;
        }
        return P;
    }

    /** Buffers one block overwrites and nobody keeps, allocated once per pass (or per recomputation). */
    private final class Work implements AutoCloseable {
        final DiffOps.Buf xn, attn, branch, h;

        Work(int n) {
            xn = ops.zeros((long) n * c.dim());          // normed input of a sub-block
            attn = ops.zeros((long) n * c.qDim());       // attention-weighted values, heads concatenated
            branch = ops.zeros((long) n * c.dim());      // attn_out, then mlp_out
            h = ops.zeros((long) n * c.ffnDim());        // silu(gate) * up, recomputed in the backward
        }

        @Override
        public void close() {
            for (DiffOps.Buf b : new DiffOps.Buf[]{xn, attn, branch, h}) ops.release(b);
        }
    }

    /**
     * Block l, from x = its steered hook_resid_pre to x = its steered hook_resid_post, keeping in P what the backward
     * needs. The forward runs it once per block; with checkpointing the backward runs it again from the kept input.
     */
    private void block(Pass P, int l, DiffOps.Buf x, Work wk) {
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim(), n = P.n;
        final float eps = c.rmsEps();
        LayerWeights lw = w.layers()[l];
        DiffOps.Buf xn = wk.xn, attn = wk.attn, branch = wk.branch, h = wk.h;

        // --- attention ---
        P.rstdAttn[l] = P.keep(ops.rmsnorm(xn, x, lw.attnNorm(), n, dim, eps));
        DiffOps.Buf q = P.keep(ops.zeros((long) n * qDim)), k = P.keep(ops.zeros((long) n * kvDim)), v = P.keep(ops.zeros((long) n * kvDim));
        ops.matmul(lw.wq(), xn, n, q);
        ops.matmul(lw.wk(), xn, n, k);
        ops.matmul(lw.wv(), xn, n, v);
        if (lw.bq() != null) ops.addBias(q, n, lw.bq());
        if (lw.bk() != null) ops.addBias(k, n, lw.bk());
        if (lw.bv() != null) ops.addBias(v, n, lw.bv());
        if (lw.qNorm() != null) {
            P.qRaw[l] = P.keep(ops.copy(q));
            P.rstdQ[l] = P.keep(ops.rmsnorm(q, q, lw.qNorm(), n * c.heads(), c.headDim(), eps));
        }
        if (lw.kNorm() != null) {
            P.kRaw[l] = P.keep(ops.copy(k));
            P.rstdK[l] = P.keep(ops.rmsnorm(k, k, lw.kNorm(), n * c.kvHeads(), c.headDim(), eps));
        }
        ops.rope(q, c.heads(), P.pk, false);
        ops.rope(k, c.kvHeads(), P.pk, false);
        P.q[l] = q; P.k[l] = k; P.v[l] = v;
        ops.attention(q, k, v, attn, P.pk, attentionOf(l));
        ops.matmul(lw.wo(), attn, n, branch);
        if (lw.postAttnNorm() != null) {   // gemma2's sandwich norm
            P.attnRaw[l] = P.keep(ops.copy(branch));
            P.rstdPostAttn[l] = P.keep(ops.rmsnorm(branch, branch, lw.postAttnNorm(), n, dim, eps));
        }
        site(P, HookSite.ATTN_OUT, l, branch);
        ops.add(x, branch);
        site(P, HookSite.RESID_MID, l, x);
        P.xMid[l] = P.keep(ops.copy(x));

        // --- gated MLP: SwiGLU, or GeGLU (gemma2) ---
        P.rstdFfn[l] = P.keep(ops.rmsnorm(xn, x, lw.ffnNorm(), n, dim, eps));
        DiffOps.Buf gate = P.keep(ops.zeros((long) n * ffn)), up = P.keep(ops.zeros((long) n * ffn));
        ops.matmul(lw.wGate(), xn, n, gate);
        ops.matmul(lw.wUp(), xn, n, up);
        P.gate[l] = gate; P.up[l] = up;
        if (gelu) ops.geluMul(h, gate, up);
        else ops.siluMul(h, gate, up);
        ops.matmul(lw.wDown(), h, n, branch);
        if (lw.postFfwNorm() != null) {
            P.ffnRaw[l] = P.keep(ops.copy(branch));
            P.rstdPostFfn[l] = P.keep(ops.rmsnorm(branch, branch, lw.postFfwNorm(), n, dim, eps));
        }
        site(P, HookSite.MLP_OUT, l, branch);
        ops.add(x, branch);
        site(P, HookSite.RESID_POST, l, x);
    }

    /** Token rows get their embeddings, prefix rows the prefix vectors (rows of x start at zero). */
    private void embed(Pass P, List<Sequence> seqs, DiffOps.Buf x) {
        int K = P.params.prefixLength, tokensTotal = P.n - K * seqs.size();
        int[] toks = new int[tokensTotal], rows = new int[tokensTotal];
        int i = 0;
        for (int s = 0; s < seqs.size(); s++) {
            int[] st = seqs.get(s).tokens();
            for (int t = 0; t < st.length; t++, i++) {
                if (st[t] < 0 || st[t] >= c.vocabSize()) throw new IllegalArgumentException("token id " + st[t] + " is outside the vocabulary");
                toks[i] = st[t];
                rows[i] = P.pk.seqStart()[s] + K + t;
            }
        }
        ops.embed(w.tokenEmbedding(), toks, rows, x, c.dim());
        if (c.embedScale() != 1f) ops.scale(x, c.embedScale());   // gemma: embeddings times sqrt(dim), before the prefix rows go in
        if (K > 0) ops.slices(x, prefixRowOffsets(P), P.theta, prefixThetaOffsets(P), c.dim(), false);
    }

    /**
     * Gradient of the loss with respect to the steering parameters, given dLoss/dLogits ([rowsOut][vocab], may be
     * null) and dLoss/dActivations at the read point ([n][dim], may be null).
     */
    public double[] backward(Pass P, double[] dLogits, double[] dRead) {
        DiffOps.Buf dl = dLogits == null ? null : ops.upload(dLogits);
        try {
            return backward(P, dl, dRead);
        } finally {
            ops.release(dl);
        }
    }

    /** {@link #backward(Pass, double[], double[])} with dLoss/dLogits where the backend holds it (losses computed there). */
    public double[] backward(Pass P, DiffOps.Buf dLogits, double[] dRead) {
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim(), n = P.n;
        final float eps = c.rmsEps();
        List<DiffOps.Buf> temp = new java.util.ArrayList<>();
        ops.begin();
        try {
            DiffOps.Buf grad = temp(temp, ops.zeros(P.params.size()));
            DiffOps.Buf dReadBuf = dRead == null ? null : temp(temp, ops.upload(dRead));
            DiffOps.Buf dx = temp(temp, ops.zeros((long) n * dim));

            // logits = output · ln_final(x)  (rows that want logits)
            if (dLogits != null && P.rowsOut > 0) {
                DiffOps.Buf dl = dLogits;
                if (c.finalSoftcap() > 0) {   // softcap(logits): through the tanh, on a copy (the caller's dLogits stays)
                    dl = temp(temp, ops.copy(dLogits));
                    ops.softcapBackward(dl, P.logitsBuf, c.finalSoftcap());
                }
                DiffOps.Buf dxno = temp(temp, ops.zeros((long) P.rowsOut * dim)), dxo = temp(temp, ops.zeros((long) P.rowsOut * dim));
                ops.matmulTransposeAdd(w.output(), dl, P.rowsOut, dxno);
                ops.rmsnormBackward(dxo, P.xo, P.rstdFinal, w.outputNorm(), dxno, P.rowsOut, dim, eps);
                ops.slices(dx, rowOffsets(P.outRow), dxo, outputOffsets(P), dim, true);
            }

            // per-layer gradients, allocated once and reused by every layer (the ones that are added into are zeroed
            // before each use)
            DiffOps.Buf dBranch = temp(temp, ops.zeros((long) n * dim)), dxn = temp(temp, ops.zeros((long) n * dim));
            DiffOps.Buf dh = temp(temp, ops.zeros((long) n * ffn)), dGate = temp(temp, ops.zeros((long) n * ffn)), dUp = temp(temp, ops.zeros((long) n * ffn));
            DiffOps.Buf dAttn = temp(temp, ops.zeros((long) n * qDim)), dq = temp(temp, ops.zeros((long) n * qDim));
            DiffOps.Buf dk = temp(temp, ops.zeros((long) n * kvDim)), dv = temp(temp, ops.zeros((long) n * kvDim));
            DiffOps.Buf dqRaw = null, dkRaw = null;
            // the gradient of a sandwich-normed branch before its norm (gemma2)
            DiffOps.Buf dRaw = c.architecture().has(Weight.POST_ATTN_NORM) || c.architecture().has(Weight.POST_FFW_NORM)
                    ? temp(temp, ops.zeros((long) n * dim)) : null;
            for (int l = c.layers() - 1; l >= 0; l--) {
                LayerWeights lw = w.layers()[l];
                if (P.checkpointed) recompute(P, l);
                // site(RESID_POST)
                siteBackward(P, HookSite.RESID_POST, l, dx, dReadBuf, grad);
                // add(x, branch): the MLP branch receives dx unchanged
                ops.copyInto(dBranch, dx);
                // site(MLP_OUT)
                siteBackward(P, HookSite.MLP_OUT, l, dBranch, dReadBuf, grad);
                // rmsnorm(branch, postFfwNorm)
                DiffOps.Buf dDown = sandwichBackward(lw.postFfwNorm(), P.ffnRaw[l], P.rstdPostFfn[l], dBranch, dRaw, n);
                // matmul(wDown, h) -> branch
                ops.zero(dh);
                ops.matmulTransposeAdd(lw.wDown(), dDown, n, dh);
                // h = silu(gate) * up, or gelu(gate) * up  (writes every element of dGate and dUp)
                if (gelu) ops.geluMulBackward(dGate, dUp, P.gate[l], P.up[l], dh);
                else ops.siluMulBackward(dGate, dUp, P.gate[l], P.up[l], dh);
                // matmul(wGate, xn), matmul(wUp, xn)
                ops.zero(dxn);
                ops.matmulTransposeAdd(lw.wGate(), dGate, n, dxn);
                ops.matmulTransposeAdd(lw.wUp(), dUp, n, dxn);
                // xn = rmsnorm(x, ffnNorm)
                ops.rmsnormBackward(dx, P.xMid[l], P.rstdFfn[l], lw.ffnNorm(), dxn, n, dim, eps);

                // site(RESID_MID)
                siteBackward(P, HookSite.RESID_MID, l, dx, dReadBuf, grad);
                // add(x, branch): the attention branch receives dx unchanged
                ops.copyInto(dBranch, dx);
                // site(ATTN_OUT)
                siteBackward(P, HookSite.ATTN_OUT, l, dBranch, dReadBuf, grad);
                // rmsnorm(branch, postAttnNorm)
                DiffOps.Buf dWo = sandwichBackward(lw.postAttnNorm(), P.attnRaw[l], P.rstdPostAttn[l], dBranch, dRaw, n);
                // matmul(wo, attn) -> branch
                ops.zero(dAttn);
                ops.matmulTransposeAdd(lw.wo(), dWo, n, dAttn);
                // attention(q, k, v) -> attn
                ops.zero(dq);
                ops.zero(dk);
                ops.zero(dv);
                ops.attentionBackward(P.q[l], P.k[l], P.v[l], dAttn, dq, dk, dv, P.pk, attentionOf(l));
                // rope(q), rope(k): the transpose of a rotation is the opposite rotation
                ops.rope(dq, c.heads(), P.pk, true);
                ops.rope(dk, c.kvHeads(), P.pk, true);
                // normHeads(k, kNorm), normHeads(q, qNorm)
                DiffOps.Buf dkIn = dk, dqIn = dq;   // gradients of the k and q projections' outputs
                if (lw.kNorm() != null) {
                    if (dkRaw == null) dkRaw = temp(temp, ops.zeros((long) n * kvDim));
                    ops.zero(dkRaw);
                    ops.rmsnormBackward(dkRaw, P.kRaw[l], P.rstdK[l], lw.kNorm(), dk, n * c.kvHeads(), c.headDim(), eps);
                    dkIn = dkRaw;
                }
                if (lw.qNorm() != null) {
                    if (dqRaw == null) dqRaw = temp(temp, ops.zeros((long) n * qDim));
                    ops.zero(dqRaw);
                    ops.rmsnormBackward(dqRaw, P.qRaw[l], P.rstdQ[l], lw.qNorm(), dq, n * c.heads(), c.headDim(), eps);
                    dqIn = dqRaw;
                }
                // addBias(q|k|v): constant, nothing to do
                // matmul(wq|wk|wv, xn)
                ops.zero(dxn);
                ops.matmulTransposeAdd(lw.wq(), dqIn, n, dxn);
                ops.matmulTransposeAdd(lw.wk(), dkIn, n, dxn);
                ops.matmulTransposeAdd(lw.wv(), dv, n, dxn);
                // xn = rmsnorm(x, attnNorm)
                ops.rmsnormBackward(dx, P.xPre[l], P.rstdAttn[l], lw.attnNorm(), dxn, n, dim, eps);
                // site(RESID_PRE)
                siteBackward(P, HookSite.RESID_PRE, l, dx, dReadBuf, grad);
                if (P.checkpointed) P.dropBlock(l);
            }
            // site(EMBED)
            siteBackward(P, HookSite.EMBED, -1, dx, dReadBuf, grad);
            // embeddings: prefix rows are the prefix vectors
            if (P.params.prefixLength > 0) ops.slices(grad, prefixThetaOffsets(P), dx, prefixRowOffsets(P), dim, true);
            return ops.download(grad);
        } finally {
            for (DiffOps.Buf b : temp) ops.release(b);
        }
    }

    /**
     * The backward of a sandwich norm, rmsnorm(branch, norm) (gemma2): the gradient of the branch before its norm, in
     * dRaw; dy itself when the block has no such norm.
     */
    private DiffOps.Buf sandwichBackward(float[] norm, DiffOps.Buf raw, DiffOps.Buf rstd, DiffOps.Buf dy, DiffOps.Buf dRaw, int n) {
        if (norm == null) return dy;
        ops.zero(dRaw);
        ops.rmsnormBackward(dRaw, raw, rstd, norm, dy, n, c.dim(), c.rmsEps());
        return dRaw;
    }

    /** Checkpointing: block l's forward again from its kept input, refilling what its backward reads. */
    private void recompute(Pass P, int l) {
        DiffOps.Buf x = ops.copy(P.xPre[l]);
        P.recomputing = true;
        try (Work wk = new Work(P.n)) {
            block(P, l, x, wk);
        } finally {
            P.recomputing = false;
            ops.release(x);
        }
    }

    private static DiffOps.Buf temp(List<DiffOps.Buf> temp, DiffOps.Buf b) {
        temp.add(b);
        return b;
    }

    // ---- steering sites, forward and backward side by side ----

    /** Steering bias (if any) at a point, then the read (the read sees the steered value). */
    private void site(Pass P, HookSite s, int layer, DiffOps.Buf y) {
        int off = P.params.biasOffset(s, layer);
        if (off >= 0) ops.addRowVector(y, P.n, P.theta, off, c.dim());
        if (!P.recomputing && P.read != null && P.read.site() == s && P.read.layer() == layer) P.readBuf = P.keep(ops.copy(y));
    }

    private void siteBackward(Pass P, HookSite s, int layer, DiffOps.Buf dy, DiffOps.Buf dRead, DiffOps.Buf grad) {
        if (dRead != null && P.read != null && P.read.site() == s && P.read.layer() == layer) ops.add(dy, dRead);
        int off = P.params.biasOffset(s, layer);
        if (off >= 0) ops.addColumnSums(grad, off, dy, P.n, c.dim());
    }

    // ---- row offsets for slices ----

    /** Offsets (in numbers) of the given rows of an [n][dim] buffer. */
    private long[] rowOffsets(int[] rows) {
        long[] o = new long[rows.length];
        for (int i = 0; i < rows.length; i++) o[i] = (long) rows[i] * c.dim();
        return o;
    }

    /** Offsets of rows 0 .. rowsOut-1 of the [rowsOut][dim] buffer of rows that want logits. */
    private long[] outputOffsets(Pass P) {
        long[] o = new long[P.rowsOut];
        for (int i = 0; i < o.length; i++) o[i] = (long) i * c.dim();
        return o;
    }

    /** The rows holding prefix vectors: for each sequence its first K rows. */
    private long[] prefixRowOffsets(Pass P) {
        int K = P.params.prefixLength, S = P.pk.sequences();
        long[] o = new long[S * K];
        for (int s = 0; s < S; s++) for (int k = 0; k < K; k++) o[s * K + k] = (long) (P.pk.seqStart()[s] + k) * c.dim();
        return o;
    }

    /** Where in theta each of {@link #prefixRowOffsets}'s rows comes from. */
    private long[] prefixThetaOffsets(Pass P) {
        int K = P.params.prefixLength, S = P.pk.sequences();
        long[] o = new long[S * K];
        for (int s = 0; s < S; s++) for (int k = 0; k < K; k++) o[s * K + k] = P.params.prefixOffset(k);
        return o;
    }

    static double sigmoid(double g) {
        return CpuDoubleOps.sigmoid(g);
    }
}
