package dev.tiller.steering.train;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.engine.model.LayerWeights;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.engine.model.PassOps;
import dev.tiller.engine.model.TransformerForward;
import dev.tiller.models.arch.Activation;
import dev.tiller.models.arch.Weight;

import java.util.List;

/**
 * The differentiable forward pass of every architecture the engine runs (llama, qwen2, qwen3, mistral, and gemma2's
 * GeGLU, sandwich norms, soft-caps, sliding window and scaled embeddings), with the backward pass with respect to
 * <em>activations only</em>: every weight stays frozen and is read where the model keeps it, and the only gradients
 * produced are those of the steering parameters ({@link SteeringParams}). Written once against {@link DiffOps}: the
 * float64 host reference ({@link CpuDoubleOps}) and the GPU's float32 backend ({@link CudaFloatOps}) run this same code.
 *
 * <p>The forward is not written here: it is the engine's {@link TransformerForward}, the same code the CPU's inference
 * ({@link dev.tiller.engine.model.Transformer}) runs, on this class's backend, with training's side of a pass
 * ({@code Run}: packed sequences, steering biases at the sites, the tape of what the backward reads). An architecture
 * change to the forward is made there, once; its backward goes into {@link #backward}, which walks the same ops in
 * reverse, each headed by the forward line it undoes. Sequences are independent (own positions from 0, causal
 * attention inside each), packed as rows ({@link Packing}): sequence s has K prefix rows then its tokens.
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
    /** The one forward, the engine's, on this backend. */
    private final TransformerForward<DiffOps.Buf> forward;

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
        this.forward = new TransformerForward<>(config, weights, this.ops);
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

        /** Where the tape keeps {@code s}, by layer. */
        DiffOps.Buf[] saved(PassOps.Saved s) {
            return switch (s) {
                case X_PRE -> xPre;
                case X_MID -> xMid;
                case RSTD_ATTN -> rstdAttn;
                case RSTD_FFN -> rstdFfn;
                case Q_RAW -> qRaw;
                case RSTD_Q -> rstdQ;
                case K_RAW -> kRaw;
                case RSTD_K -> rstdK;
                case ATTN_RAW -> attnRaw;
                case RSTD_POST_ATTN -> rstdPostAttn;
                case FFN_RAW -> ffnRaw;
                case RSTD_POST_FFN -> rstdPostFfn;
                case RSTD_FINAL -> throw new IllegalArgumentException("not kept per layer: " + s);
            };
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
        if (sp.dim != dim) throw new IllegalArgumentException("steering vectors have width " + sp.dim + ", the model " + dim);
        Pass P = new Pass(sp, read, seqs);
        final int n = P.n;
        P.checkpointed = checkpoints(n);
        ops.begin();
        try {
            P.theta = P.keep(ops.upload(sp.theta));
            DiffOps.Buf x = P.keep(ops.zeros((long) n * dim));        // the residual stream
            P.logitsBuf = P.keep(ops.zeros((long) P.rowsOut * c.vocabSize()));
            try (Work work = new Work(n)) {
                forward.forward(new Run(P, seqs, x, work, false));
                if (P.readBuf != null) P.readActs = ops.download(P.readBuf);
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
        DiffOps.Buf xnFinal;

        Work(int n) {
            xn = ops.zeros((long) n * c.dim());          // normed input of a sub-block
            attn = ops.zeros((long) n * c.qDim());       // attention-weighted values, heads concatenated
            branch = ops.zeros((long) n * c.dim());      // attn_out, then mlp_out
            h = ops.zeros((long) n * c.ffnDim());        // silu(gate) * up, recomputed in the backward
        }

        @Override
        public void close() {
            for (DiffOps.Buf b : new DiffOps.Buf[]{xn, attn, branch, h, xnFinal}) ops.release(b);
        }
    }

    /**
     * Training's side of the one forward ({@link TransformerForward}): packed sequences ({@link Packing}) whose rows
     * start with K prefix vectors, attention inside each sequence, the steering biases at the sites and the read
     * point, and the tape: q, k, v, gate and up are new buffers kept in {@link Pass} for the backward, as is what the
     * forward hands to {@link #keep} and {@link #keepCopy}.
     */
    private final class Run implements PassOps<DiffOps.Buf> {
        final Pass P;
        final List<Sequence> seqs;
        final DiffOps.Buf x;
        final Work wk;
        /** Set while the backward runs a block again: the read point was read by the forward already. */
        final boolean recomputing;

        Run(Pass P, List<Sequence> seqs, DiffOps.Buf x, Work wk, boolean recomputing) {
            this.P = P;
            this.seqs = seqs;
            this.x = x;
            this.wk = wk;
            this.recomputing = recomputing;
        }

        @Override
        public int rows() {
            return P.n;
        }

        @Override
        public DiffOps.Buf buffer(Buffer which, int l) {
            long n = P.n;
            return switch (which) {
                case X -> x;
                case XN -> wk.xn;
                case ATTN -> wk.attn;
                case BRANCH -> wk.branch;
                case H -> wk.h;                   // gate and up stay as they are: the backward reads them
                case Q -> P.q[l] = P.keep(ops.zeros(n * c.qDim()));
                case K -> P.k[l] = P.keep(ops.zeros(n * c.kvDim()));
                case V -> P.v[l] = P.keep(ops.zeros(n * c.kvDim()));
                case GATE -> P.gate[l] = P.keep(ops.zeros(n * c.ffnDim()));
                case UP -> P.up[l] = P.keep(ops.zeros(n * c.ffnDim()));
                case XN_FINAL -> wk.xnFinal = ops.zeros((long) P.rowsOut * c.dim());
                case LOGITS -> P.logitsBuf;
            };
        }

        /** Token rows get their embeddings; prefix rows stay zero (rows of x start at zero). */
        @Override
        public void embed(DiffOps.Buf x) {
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
        }

        /** Prefix rows are the prefix vectors themselves. */
        @Override
        public void prefix(DiffOps.Buf x) {
            if (P.params.prefixLength > 0) ops.slices(x, prefixRowOffsets(P), P.theta, prefixThetaOffsets(P), c.dim(), false);
        }

        /**
         * Steering bias (if any) at a point, then the read (the read sees the steered value). Training steers and reads
         * the sites of the residual's width over all rows ({@link SteeringParams#BIAS_SITES}); ln_final and logits are
         * not among them.
         */
        @Override
        public void site(HookSite s, int layer, DiffOps.Buf y) {
            if (!SteeringParams.BIAS_SITES.contains(s)) return;
            int off = P.params.biasOffset(s, layer);
            if (off >= 0) ops.addRowVector(y, P.n, P.theta, off, c.dim());
            if (!recomputing && P.read != null && P.read.site() == s && P.read.layer() == layer) P.readBuf = P.keep(ops.copy(y));
        }

        @Override
        public void rope(DiffOps.Buf y, int heads) {
            ops.rope(y, heads, P.pk, false);
        }

        @Override
        public void attention(int l, DiffOps.Buf q, DiffOps.Buf k, DiffOps.Buf v, DiffOps.Buf out) {
            ops.attention(q, k, v, out, P.pk, attentionOf(l));
        }

        @Override
        public void keep(Saved s, int l, DiffOps.Buf b) {
            if (s == Saved.RSTD_FINAL) P.rstdFinal = P.keep(b);
            else P.saved(s)[l] = P.keep(b);
        }

        @Override
        public void keepCopy(Saved s, int l, DiffOps.Buf b) {
            keep(s, l, ops.copy(b));
        }

        /** Checkpointing: keep only the block's input; the backward runs the block again from it. */
        @Override
        public void blockDone(int l) {
            if (P.checkpointed) P.dropBlock(l);
        }

        @Override
        public int logitRows() {
            return P.rowsOut;
        }

        /** A copy of the rows that want logits, kept: the backward of the final norm reads it. */
        @Override
        public DiffOps.Buf gatherLogitRows(DiffOps.Buf x) {
            P.xo = P.keep(ops.zeros((long) P.rowsOut * c.dim()));
            ops.slices(P.xo, outputOffsets(P), x, rowOffsets(P.outRow), c.dim(), false);
            return P.xo;
        }
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

            // TransformerForward.forward's last lines, in reverse: logits = output · rmsnorm(xo, outputNorm), xo the rows that
            // want logits
            if (dLogits != null && P.rowsOut > 0) {
                DiffOps.Buf dl = dLogits;
                if (c.finalSoftcap() > 0) {   // ops.softcap(logits): through the tanh, on a copy (the caller's dLogits stays)
                    dl = temp(temp, ops.copy(dLogits));
                    ops.softcapBackward(dl, P.logitsBuf, c.finalSoftcap());
                }
                DiffOps.Buf dxno = temp(temp, ops.zeros((long) P.rowsOut * dim)), dxo = temp(temp, ops.zeros((long) P.rowsOut * dim));
                // ops.matmul(w.output(), xn, rows, logits)
                ops.matmulTransposeAdd(w.output(), dl, P.rowsOut, dxno);
                // ops.rmsnorm(xn, xo, w.outputNorm(), ...)
                ops.rmsnormBackward(dxo, P.xo, P.rstdFinal, w.outputNorm(), dxno, P.rowsOut, dim, eps);
                // xo = p.gatherLogitRows(x)
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
            // TransformerForward.block, bottom to top
            for (int l = c.layers() - 1; l >= 0; l--) {
                LayerWeights lw = w.layers()[l];
                if (P.checkpointed) recompute(P, l);
                // p.site(RESID_POST, l, x)
                siteBackward(P, HookSite.RESID_POST, l, dx, dReadBuf, grad);
                // ops.add(x, branch): the MLP branch receives dx unchanged
                ops.copyInto(dBranch, dx);
                // p.site(MLP_OUT, l, branch)
                siteBackward(P, HookSite.MLP_OUT, l, dBranch, dReadBuf, grad);
                // ops.rmsnorm(branch, branch, postFfwNorm)  (gemma2)
                DiffOps.Buf dDown = sandwichBackward(lw.postFfwNorm(), P.ffnRaw[l], P.rstdPostFfn[l], dBranch, dRaw, n);
                // ops.matmul(wDown, h, n, branch)
                ops.zero(dh);
                ops.matmulTransposeAdd(lw.wDown(), dDown, n, dh);
                // ops.siluMul(h, gate, up), or ops.geluMul  (writes every element of dGate and dUp)
                if (gelu) ops.geluMulBackward(dGate, dUp, P.gate[l], P.up[l], dh);
                else ops.siluMulBackward(dGate, dUp, P.gate[l], P.up[l], dh);
                // ops.matmul(xn, n, wGate, gate, wUp, up)
                ops.zero(dxn);
                ops.matmulTransposeAdd(lw.wGate(), dGate, n, dxn);
                ops.matmulTransposeAdd(lw.wUp(), dUp, n, dxn);
                // ops.rmsnorm(xn, x, ffnNorm)
                ops.rmsnormBackward(dx, P.xMid[l], P.rstdFfn[l], lw.ffnNorm(), dxn, n, dim, eps);

                // p.site(RESID_MID, l, x)
                siteBackward(P, HookSite.RESID_MID, l, dx, dReadBuf, grad);
                // ops.add(x, branch): the attention branch receives dx unchanged
                ops.copyInto(dBranch, dx);
                // p.site(ATTN_OUT, l, branch)
                siteBackward(P, HookSite.ATTN_OUT, l, dBranch, dReadBuf, grad);
                // ops.rmsnorm(branch, branch, postAttnNorm)  (gemma2)
                DiffOps.Buf dWo = sandwichBackward(lw.postAttnNorm(), P.attnRaw[l], P.rstdPostAttn[l], dBranch, dRaw, n);
                // ops.matmul(wo, attn, n, branch)
                ops.zero(dAttn);
                ops.matmulTransposeAdd(lw.wo(), dWo, n, dAttn);
                // p.attention(l, q, k, v, attn)
                ops.zero(dq);
                ops.zero(dk);
                ops.zero(dv);
                ops.attentionBackward(P.q[l], P.k[l], P.v[l], dAttn, dq, dk, dv, P.pk, attentionOf(l));
                // p.rope(q), p.rope(k): the transpose of a rotation is the opposite rotation
                ops.rope(dq, c.heads(), P.pk, true);
                ops.rope(dk, c.kvHeads(), P.pk, true);
                // ops.rmsnorm(k, k, kNorm), ops.rmsnorm(q, q, qNorm): each head  (qwen3)
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
                // ops.addBias(q|k|v): constant, nothing to do
                // ops.matmul(xn, n, wq, q, wk, k, wv, v)
                ops.zero(dxn);
                ops.matmulTransposeAdd(lw.wq(), dqIn, n, dxn);
                ops.matmulTransposeAdd(lw.wk(), dkIn, n, dxn);
                ops.matmulTransposeAdd(lw.wv(), dv, n, dxn);
                // ops.rmsnorm(xn, x, attnNorm)
                ops.rmsnormBackward(dx, P.xPre[l], P.rstdAttn[l], lw.attnNorm(), dxn, n, dim, eps);
                // p.site(RESID_PRE, l, x)  (in TransformerForward.forward's loop)
                siteBackward(P, HookSite.RESID_PRE, l, dx, dReadBuf, grad);
                if (P.checkpointed) P.dropBlock(l);
            }
            // TransformerForward.forward's first lines: p.site(EMBED, -1, x)
            siteBackward(P, HookSite.EMBED, -1, dx, dReadBuf, grad);
            // p.prefix(x): prefix rows are the prefix vectors (the embeddings and their scale are constant)
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
        try (Work wk = new Work(P.n)) {
            forward.block(new Run(P, null, x, wk, true), l, x);
        } finally {
            ops.release(x);
        }
    }

    private static DiffOps.Buf temp(List<DiffOps.Buf> temp, DiffOps.Buf b) {
        temp.add(b);
        return b;
    }

    // ---- steering sites: the backward of Run.site ----

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
