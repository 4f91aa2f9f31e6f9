package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.model.LayerWeights;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.backward.DoubleMatMul;
import dev.tiller.models.arch.RopeFrequencies;
import dev.tiller.models.arch.Weight;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.List;

/**
 * A differentiable copy of {@link dev.tiller.engine.model.Transformer}'s forward pass in float64, with the backward
 * pass with respect to <em>activations only</em>: every weight stays frozen and is read in place (any format), and the
 * only gradients produced are those of the steering parameters ({@link SteeringParams}).
 *
 * <p>{@link #forward} mirrors {@code Transformer.forward} op by op, with the same names; {@link #backward} walks the
 * same ops in reverse, each headed by the forward line it undoes. Sequences are independent (own positions from 0,
 * causal attention inside each), packed as rows: sequence s has K prefix rows then its tokens.
 *
 * <p>Kept for the backward, per token row: for each layer the residual entering the block ({@code xPre}, dim) and
 * after attention ({@code xMid}, dim), q and k after RoPE (qDim + kvDim), v (kvDim), gate and up before SwiGLU
 * (2·ffn), two RMSNorm inverse-RMS scalars, and for qwen3 q and k before their head norms (qDim + kvDim) with one
 * scalar per head; then the final residual (dim). Everything else (normed inputs, attention probabilities, SwiGLU
 * output) is recomputed. See {@link #savedDoublesPerToken}.
 */
public final class DiffTransformer {
    private final ModelConfig c;
    private final ModelWeights w;
    private double[][] cosTab = new double[0][], sinTab = new double[0][];
    private final double[] freqs;

    public DiffTransformer(ModelConfig config, ModelWeights weights) {
        // the float64 forward and backward implement the llama block only: training a model needing more would
        // follow wrong gradients without a sign
        if (!config.beyondLlamaBlock().isEmpty()) {
            throw new UnsupportedOperationException("training does not support " + config.architecture().name() + " models yet (the float64 "
                    + "forward has no " + String.join(", ", config.beyondLlamaBlock()) + ")");
        }
        this.c = config;
        this.w = weights;
        freqs = RopeFrequencies.inverse(c.ropeDims(), c.ropeTheta(), c.ropeFreqScale(), c.ropeFreqFactors());
    }

    public ModelConfig config() {
        return c;
    }

    /** float64 values kept per token row between forward and backward. */
    public long savedDoublesPerToken() {
        long perLayer = 2L * c.dim() + c.qDim() + 2L * c.kvDim() + 2L * c.ffnDim() + 2;
        if (c.architecture().has(Weight.ATTN_Q_NORM)) perLayer += c.qDim() + c.kvDim() + c.heads() + c.kvHeads();
        return perLayer * c.layers() + c.dim() + 1;
    }

    /** One training sequence: its tokens, and which of them want logits (the prediction made at that token). */
    public record Sequence(int[] tokens, boolean[] wantLogits) {
        public Sequence {
            if (tokens.length == 0) throw new IllegalArgumentException("empty sequence");
            if (wantLogits.length != tokens.length) throw new IllegalArgumentException("wantLogits length differs from tokens");
        }
    }

    /** What the forward pass keeps; the logits of the wanted rows and the activations at the read point. */
    public final class Pass {
        final SteeringParams params;
        final HookPoint read;
        final int n, rowsOut;
        final int[] pos, seqStart, seqLen;
        final int[] outRow;          // row index of each logits row
        final double[][] xPre, xMid, q, k, v, gate, up, qRaw, kRaw;
        final double[][] rstdAttn, rstdFfn, rstdQ, rstdK;
        double[] xFinal, rstdFinal;
        /** [rowsOut][vocab] */
        public double[] logits;
        /** [n][dim] activations at the read point (null when none), row order as {@link #row}. */
        public double[] readActs;

        Pass(SteeringParams params, HookPoint read, List<Sequence> seqs) {
            this.params = params;
            this.read = read;
            int K = params.prefixLength, count = 0, wanted = 0;
            seqStart = new int[seqs.size()];
            seqLen = new int[seqs.size()];
            for (int s = 0; s < seqs.size(); s++) {
                seqStart[s] = count;
                seqLen[s] = K + seqs.get(s).tokens().length;
                count += seqLen[s];
                for (boolean b : seqs.get(s).wantLogits()) if (b) wanted++;
            }
            n = count;
            rowsOut = wanted;
            pos = new int[n];
            outRow = new int[wanted];
            int o = 0;
            for (int s = 0; s < seqs.size(); s++) {
                for (int p = 0; p < seqLen[s]; p++) pos[seqStart[s] + p] = p;
                boolean[] want = seqs.get(s).wantLogits();
                for (int t = 0; t < want.length; t++) if (want[t]) outRow[o++] = seqStart[s] + K + t;
            }
            int L = c.layers();
            xPre = new double[L][]; xMid = new double[L][]; q = new double[L][]; k = new double[L][]; v = new double[L][];
            gate = new double[L][]; up = new double[L][]; qRaw = new double[L][]; kRaw = new double[L][];
            rstdAttn = new double[L][]; rstdFfn = new double[L][]; rstdQ = new double[L][]; rstdK = new double[L][];
        }

        public int rows() {
            return n;
        }

        /** Packed row of token t (0-based, not counting prefix rows) of sequence s. */
        public int row(int s, int t) {
            return seqStart[s] + params.prefixLength + t;
        }

        public int sequenceLength(int s) {
            return seqLen[s] - params.prefixLength;
        }
    }

    /**
     * Runs the sequences with the steering parameters applied. {@code read}: a point whose activations are kept in
     * {@link Pass#readActs} (after any bias at that point), or null.
     */
    public Pass forward(List<Sequence> seqs, SteeringParams sp, HookPoint read) {
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim();
        if (sp.dim != dim) throw new IllegalArgumentException("steering vectors have width " + sp.dim + ", the model " + dim);
        Pass P = new Pass(sp, read, seqs);
        final int n = P.n;
        ensureRope(maxLen(P));

        double[] x = new double[n * dim];        // the residual stream
        double[] xn = new double[n * dim];       // normed input of a sub-block
        double[] attn = new double[n * qDim];    // attention-weighted values, heads concatenated
        double[] branch = new double[n * dim];   // attn_out, then mlp_out
        double[] h = null;                       // silu(gate) * up

        // token embeddings; prefix rows are the prefix vectors themselves
        double[] wr = new double[dim];
        for (int s = 0; s < seqs.size(); s++) {
            int[] toks = seqs.get(s).tokens();
            for (int p = 0; p < P.seqLen[s]; p++) {
                int r = P.seqStart[s] + p;
                if (p < sp.prefixLength) {
                    System.arraycopy(sp.theta, sp.prefixOffset(p), x, r * dim, dim);
                } else {
                    int tok = toks[p - sp.prefixLength];
                    if (tok < 0 || tok >= c.vocabSize()) throw new IllegalArgumentException("token id " + tok + " is outside the vocabulary");
                    DoubleMatMul.row(w.tokenEmbedding(), tok, x, r * dim);
                }
            }
        }
        site(P, HookSite.EMBED, -1, x);

        for (int l = 0; l < c.layers(); l++) {
            LayerWeights lw = w.layers()[l];
            site(P, HookSite.RESID_PRE, l, x);
            P.xPre[l] = x.clone();

            // --- attention ---
            P.rstdAttn[l] = rmsnorm(xn, x, lw.attnNorm(), n, dim);
            double[] q = new double[n * qDim], k = new double[n * kvDim], v = new double[n * kvDim];
            DoubleMatMul.matmul(lw.wq(), xn, n, q);
            DoubleMatMul.matmul(lw.wk(), xn, n, k);
            DoubleMatMul.matmul(lw.wv(), xn, n, v);
            if (lw.bq() != null) addBias(q, lw.bq(), n);
            if (lw.bk() != null) addBias(k, lw.bk(), n);
            if (lw.bv() != null) addBias(v, lw.bv(), n);
            if (lw.qNorm() != null) {
                P.qRaw[l] = q.clone();
                P.rstdQ[l] = rmsnorm(q, q, lw.qNorm(), n * c.heads(), c.headDim());
            }
            if (lw.kNorm() != null) {
                P.kRaw[l] = k.clone();
                P.rstdK[l] = rmsnorm(k, k, lw.kNorm(), n * c.kvHeads(), c.headDim());
            }
            ropeHeads(P, q, k, false);
            P.q[l] = q; P.k[l] = k; P.v[l] = v;
            attention(P, q, k, v, attn);
            DoubleMatMul.matmul(lw.wo(), attn, n, branch);
            site(P, HookSite.ATTN_OUT, l, branch);
            add(x, branch);
            site(P, HookSite.RESID_MID, l, x);
            P.xMid[l] = x.clone();

            // --- SwiGLU MLP ---
            P.rstdFfn[l] = rmsnorm(xn, x, lw.ffnNorm(), n, dim);
            double[] gate = new double[n * ffn], up = new double[n * ffn];
            DoubleMatMul.matmul(lw.wGate(), xn, n, gate);
            DoubleMatMul.matmul(lw.wUp(), xn, n, up);
            P.gate[l] = gate; P.up[l] = up;
            if (h == null) h = new double[n * ffn];   // SwiGLU output, recomputed in the backward: one buffer for all layers
            siluMul(h, gate, up);
            DoubleMatMul.matmul(lw.wDown(), h, n, branch);
            site(P, HookSite.MLP_OUT, l, branch);
            add(x, branch);
            site(P, HookSite.RESID_POST, l, x);
        }
        P.xFinal = x;

        // --- final norm and unembedding, only for the rows that want logits ---
        double[] xo = new double[P.rowsOut * dim];
        for (int i = 0; i < P.rowsOut; i++) System.arraycopy(x, P.outRow[i] * dim, xo, i * dim, dim);
        double[] xno = new double[P.rowsOut * dim];
        P.rstdFinal = rmsnorm(xno, xo, w.outputNorm(), P.rowsOut, dim);
        P.logits = new double[P.rowsOut * c.vocabSize()];
        if (P.rowsOut > 0) DoubleMatMul.matmul(w.output(), xno, P.rowsOut, P.logits);
        return P;
    }

    /**
     * Gradient of the loss with respect to the steering parameters, given dLoss/dLogits ([rowsOut][vocab], may be
     * null) and dLoss/dActivations at the read point ([n][dim], may be null).
     */
    public double[] backward(Pass P, double[] dLogits, double[] dRead) {
        final int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim(), n = P.n;
        SteeringParams sp = P.params;
        double[] grad = new double[sp.size()];

        // logits = output · ln_final(x)  (rows that want logits)
        double[] dx = new double[n * dim];
        if (dLogits != null && P.rowsOut > 0) {
            double[] dxno = new double[P.rowsOut * dim];
            DoubleMatMul.matmulTransposeAdd(w.output(), dLogits, P.rowsOut, dxno);
            double[] xo = new double[P.rowsOut * dim];
            for (int i = 0; i < P.rowsOut; i++) System.arraycopy(P.xFinal, P.outRow[i] * dim, xo, i * dim, dim);
            double[] dxo = new double[P.rowsOut * dim];
            rmsnormBackward(dxo, xo, P.rstdFinal, w.outputNorm(), dxno, P.rowsOut, dim);
            for (int i = 0; i < P.rowsOut; i++) DoubleMatMul.axpy(dx, P.outRow[i] * dim, 1, dxo, i * dim, dim);
        }

        double[] dBranch = new double[n * dim];
        double[] dxn = new double[n * dim];
        // per-layer gradients, allocated once and reused by every layer (the arrays that are added into are zeroed
        // before each use): a backward pass would otherwise allocate ~10 arrays of n·ffn or n·dim doubles per layer
        double[] dh = new double[n * ffn], dGate = new double[n * ffn], dUp = new double[n * ffn];
        double[] dAttn = new double[n * qDim], dq = new double[n * qDim], dk = new double[n * kvDim], dv = new double[n * kvDim];
        double[] dqRaw = null, dkRaw = null;
        for (int l = c.layers() - 1; l >= 0; l--) {
            LayerWeights lw = w.layers()[l];
            // site(RESID_POST)
            siteBackward(P, HookSite.RESID_POST, l, dx, dRead, grad);
            // add(x, branch): the MLP branch receives dx unchanged
            System.arraycopy(dx, 0, dBranch, 0, n * dim);
            // site(MLP_OUT)
            siteBackward(P, HookSite.MLP_OUT, l, dBranch, dRead, grad);
            // matmul(wDown, h) -> branch
            java.util.Arrays.fill(dh, 0);
            DoubleMatMul.matmulTransposeAdd(lw.wDown(), dBranch, n, dh);
            // h = silu(gate) * up  (writes every element of dGate and dUp)
            siluMulBackward(dGate, dUp, P.gate[l], P.up[l], dh);
            // matmul(wGate, xn), matmul(wUp, xn)
            java.util.Arrays.fill(dxn, 0);
            DoubleMatMul.matmulTransposeAdd(lw.wGate(), dGate, n, dxn);
            DoubleMatMul.matmulTransposeAdd(lw.wUp(), dUp, n, dxn);
            // xn = rmsnorm(x, ffnNorm)
            rmsnormBackward(dx, P.xMid[l], P.rstdFfn[l], lw.ffnNorm(), dxn, n, dim);

            // site(RESID_MID)
            siteBackward(P, HookSite.RESID_MID, l, dx, dRead, grad);
            // add(x, branch): the attention branch receives dx unchanged
            System.arraycopy(dx, 0, dBranch, 0, n * dim);
            // site(ATTN_OUT)
            siteBackward(P, HookSite.ATTN_OUT, l, dBranch, dRead, grad);
            // matmul(wo, attn) -> branch
            java.util.Arrays.fill(dAttn, 0);
            DoubleMatMul.matmulTransposeAdd(lw.wo(), dBranch, n, dAttn);
            // attention(q, k, v) -> attn
            java.util.Arrays.fill(dq, 0);
            java.util.Arrays.fill(dk, 0);
            java.util.Arrays.fill(dv, 0);
            attentionBackward(P, P.q[l], P.k[l], P.v[l], dAttn, dq, dk, dv);
            // rope(q), rope(k): the transpose of a rotation is the opposite rotation
            ropeHeads(P, dq, dk, true);
            // normHeads(k, kNorm), normHeads(q, qNorm)
            double[] dkIn = dk, dqIn = dq;   // gradients of the k and q projections' outputs
            if (lw.kNorm() != null) {
                if (dkRaw == null) dkRaw = new double[dk.length];
                java.util.Arrays.fill(dkRaw, 0);
                rmsnormBackward(dkRaw, P.kRaw[l], P.rstdK[l], lw.kNorm(), dk, n * c.kvHeads(), c.headDim());
                dkIn = dkRaw;
            }
            if (lw.qNorm() != null) {
                if (dqRaw == null) dqRaw = new double[dq.length];
                java.util.Arrays.fill(dqRaw, 0);
                rmsnormBackward(dqRaw, P.qRaw[l], P.rstdQ[l], lw.qNorm(), dq, n * c.heads(), c.headDim());
                dqIn = dqRaw;
            }
            // addBias(q|k|v): constant, nothing to do
            // matmul(wq|wk|wv, xn)
            java.util.Arrays.fill(dxn, 0);
            DoubleMatMul.matmulTransposeAdd(lw.wq(), dqIn, n, dxn);
            DoubleMatMul.matmulTransposeAdd(lw.wk(), dkIn, n, dxn);
            DoubleMatMul.matmulTransposeAdd(lw.wv(), dv, n, dxn);
            // xn = rmsnorm(x, attnNorm)
            rmsnormBackward(dx, P.xPre[l], P.rstdAttn[l], lw.attnNorm(), dxn, n, dim);
            // site(RESID_PRE)
            siteBackward(P, HookSite.RESID_PRE, l, dx, dRead, grad);
        }
        // site(EMBED)
        siteBackward(P, HookSite.EMBED, -1, dx, dRead, grad);
        // embeddings: prefix rows are the prefix vectors
        for (int s = 0; s < P.seqStart.length; s++) {
            for (int kk = 0; kk < sp.prefixLength; kk++) {
                DoubleMatMul.axpy(grad, sp.prefixOffset(kk), 1, dx, (P.seqStart[s] + kk) * dim, dim);
            }
        }
        return grad;
    }

    // ---- the ops, forward and backward side by side ----

    /** Steering bias (if any) at a point, then the read (the read sees the steered value). */
    private void site(Pass P, HookSite s, int layer, double[] y) {
        int off = P.params.biasOffset(s, layer);
        int dim = c.dim();
        if (off >= 0) for (int t = 0; t < P.n; t++) DoubleMatMul.axpy(y, t * dim, 1, P.params.theta, off, dim);
        if (P.read != null && P.read.site() == s && P.read.layer() == layer) P.readActs = y.clone();
    }

    private void siteBackward(Pass P, HookSite s, int layer, double[] dy, double[] dRead, double[] grad) {
        int dim = c.dim();
        if (dRead != null && P.read != null && P.read.site() == s && P.read.layer() == layer) DoubleMatMul.axpy(dy, 0, 1, dRead, 0, P.n * dim);
        int off = P.params.biasOffset(s, layer);
        if (off >= 0) for (int t = 0; t < P.n; t++) DoubleMatMul.axpy(grad, off, 1, dy, t * dim, dim);
    }

    /** out[r] = x[r] * inv_rms(x[r]) * weight for rows of width d; returns inv_rms of each row. out may be x. */
    static double[] rmsnorm(double[] out, double[] x, float[] weight, int rows, int d, double eps) {
        double[] rstd = new double[rows];
        // rows are independent: split them over the worker pool
        Parallel.forRange(rows, minRows(d), (from, to) -> {
            for (int r = from; r < to; r++) {
                int o = r * d;
                double ss = DoubleMatMul.dot(x, o, x, o, d);
                double inv = 1.0 / Math.sqrt(ss / d + eps);
                rstd[r] = inv;
                for (int i = 0; i < d; i++) out[o + i] = x[o + i] * inv * weight[i];
            }
        });
        return rstd;
    }

    /** Rows of width d per parallel task: about POINTWISE_CHUNK numbers, so that a task outweighs handing it out. */
    static int minRows(int d) {
        return Math.max(1, POINTWISE_CHUNK / Math.max(1, d));
    }

    static final int POINTWISE_CHUNK = 8192;

    private double[] rmsnorm(double[] out, double[] x, float[] weight, int rows, int d) {
        return rmsnorm(out, x, weight, rows, d, c.rmsEps());
    }

    /** dx[r] += d out / d x given dy: w*dy*inv - x * inv^3 / d * Σ(w*dy*x). */
    static void rmsnormBackward(double[] dx, double[] x, double[] rstd, float[] weight, double[] dy, int rows, int d) {
        Parallel.forRange(rows, minRows(d), (from, to) -> {
            for (int r = from; r < to; r++) {
                int o = r * d;
                double inv = rstd[r], s = 0;
                for (int i = 0; i < d; i++) s += weight[i] * dy[o + i] * x[o + i];
                double coef = s * inv * inv * inv / d;
                for (int i = 0; i < d; i++) dx[o + i] += weight[i] * dy[o + i] * inv - x[o + i] * coef;
            }
        });
    }

    private static void addBias(double[] y, float[] bias, int n) {
        int d = bias.length;
        for (int t = 0; t < n; t++) for (int i = 0; i < d; i++) y[t * d + i] += bias[i];
    }

    private static void add(double[] y, double[] x) {
        DoubleMatMul.axpy(y, 0, 1, x, 0, y.length);
    }

    static double sigmoid(double g) {
        return 1.0 / (1.0 + Math.exp(-g));
    }

    static double silu(double g) {
        return g * sigmoid(g);
    }

    /**
     * h = silu(gate) · up, element by element (split over the worker pool), the sigmoid's exponential in vector lanes
     * (scalar {@code Math.exp} per element was ~12% of a training forward).
     */
    private static void siluMul(double[] h, double[] gate, double[] up) {
        Parallel.forRange(h.length, POINTWISE_CHUNK, (from, to) -> {
            int i = from;
            for (int bound = from + VS.loopBound(to - from); i < bound; i += VS.length()) {
                DoubleVector g = DoubleVector.fromArray(VS, gate, i);
                g.mul(sigmoid(g)).mul(DoubleVector.fromArray(VS, up, i)).intoArray(h, i);
            }
            for (; i < to; i++) h[i] = silu(gate[i]) * up[i];
        });
    }

    /** σ(g) = 1 / (1 + e^−g) in vector lanes. */
    private static DoubleVector sigmoid(DoubleVector g) {
        DoubleVector one = DoubleVector.broadcast(VS, 1.0);
        return one.div(one.add(g.neg().lanewise(VectorOperators.EXP)));
    }

    /**
     * Backward of {@link #siluMul}: dUp = dh · silu(g); dGate = dh · up · silu'(g) with silu'(g) = σ(g)(1 + g(1 − σ(g))).
     */
    private static void siluMulBackward(double[] dGate, double[] dUp, double[] gate, double[] up, double[] dh) {
        Parallel.forRange(dh.length, POINTWISE_CHUNK, (from, to) -> {
            int i = from;
            DoubleVector one = DoubleVector.broadcast(VS, 1.0);
            for (int bound = from + VS.loopBound(to - from); i < bound; i += VS.length()) {
                DoubleVector g = DoubleVector.fromArray(VS, gate, i), d = DoubleVector.fromArray(VS, dh, i), sg = sigmoid(g);
                d.mul(g).mul(sg).intoArray(dUp, i);
                d.mul(DoubleVector.fromArray(VS, up, i)).mul(sg).mul(one.add(g.mul(one.sub(sg)))).intoArray(dGate, i);
            }
            for (; i < to; i++) {
                double g = gate[i], sg = sigmoid(g);
                dUp[i] = dh[i] * g * sg;
                dGate[i] = dh[i] * up[i] * sg * (1 + g * (1 - sg));
            }
        });
    }

    /** RoPE of every q and k head of every row (token rows are independent: split over the worker pool). */
    private void ropeHeads(Pass P, double[] q, double[] k, boolean inverse) {
        final int qDim = c.qDim(), kvDim = c.kvDim(), hd = c.headDim();
        Parallel.forRange(P.n, minRows(qDim + kvDim), (from, to) -> {
            for (int t = from; t < to; t++) {
                for (int h = 0; h < c.heads(); h++) rope(q, t * qDim + h * hd, P.pos[t], inverse);
                for (int h = 0; h < c.kvHeads(); h++) rope(k, t * kvDim + h * hd, P.pos[t], inverse);
            }
        });
    }

    /** RoPE of one head vector in place; {@code inverse} turns the other way (the backward of the rotation). */
    private void rope(double[] x, int off, int pos, boolean inverse) {
        double[] cs = cosTab[pos], sn = sinTab[pos];
        int half = c.ropeDims() / 2;
        for (int i = 0; i < half; i++) {
            int ia = c.ropeNeox() ? off + i : off + 2 * i;
            int ib = c.ropeNeox() ? off + i + half : off + 2 * i + 1;
            double a = x[ia], b = x[ib], co = cs[i], si = inverse ? -sn[i] : sn[i];
            x[ia] = a * co - b * si;
            x[ib] = a * si + b * co;
        }
    }

    private int maxLen(Pass P) {
        int m = 0;
        for (int l : P.seqLen) m = Math.max(m, l);
        return m;
    }

    private synchronized void ensureRope(int len) {
        if (cosTab.length >= len) return;
        int half = c.ropeDims() / 2;
        double[][] nc = new double[len][half], ns = new double[len][half];
        for (int p = 0; p < len; p++) {
            for (int i = 0; i < half; i++) {
                double a = p * freqs[i];
                nc[p][i] = Math.cos(a);
                ns[p][i] = Math.sin(a);
            }
        }
        cosTab = nc;
        sinTab = ns;
    }

    /**
     * Causal grouped-query attention inside each sequence: the row at position p, head h, attends to positions 0..p
     * of its own sequence with KV head h / (heads / kvHeads).
     */
    private void attention(Pass P, double[] q, double[] k, double[] v, double[] out) {
        final int hd = c.headDim(), heads = c.heads(), qDim = c.qDim(), kvDim = c.kvDim(), group = heads / c.kvHeads();
        final double scale = 1.0 / Math.sqrt(hd);
        int S = P.seqStart.length;
        Parallel.forRange(S * heads, 1, (from, to) -> {
            int maxLen = maxLen(P);
            double[] p = new double[maxLen], kT = new double[hd * maxLen];
            for (int i = from; i < to; i++) {
                int s = i / heads, h = i % heads, base = P.seqStart[s], len = P.seqLen[s], kvo = (h / group) * hd;
                transposeHead(k, base, len, kvo, kvDim, hd, kT);
                for (int a = 0; a < len; a++) {
                    int qo = (base + a) * qDim + h * hd;
                    softmaxScores(p, q, qo, kT, len, a, hd, scale);
                    java.util.Arrays.fill(out, qo, qo + hd, 0);
                    for (int j = 0; j <= a; j++) DoubleMatMul.axpy(out, qo, p[j], v, (base + j) * kvDim + kvo, hd);
                }
            }
        });
    }

    private static final VectorSpecies<Double> VS = DoubleVector.SPECIES_PREFERRED;

    /**
     * The head at offset kvo of rows base .. base+len-1 of x (row width width), transposed into xT[d·len + j]: the keys
     * (or values) of one sequence and head as hd rows over positions, so that the scores of many positions are
     * computed side by side in vector lanes ({@link #dotsT}) instead of one horizontal reduction per position.
     */
    private static void transposeHead(double[] x, int base, int len, int kvo, int width, int hd, double[] xT) {
        for (int j = 0; j < len; j++) {
            int o = (base + j) * width + kvo;
            for (int d = 0; d < hd; d++) xT[d * len + j] = x[o + d];
        }
    }

    /** out[j] = Σ_d x[xo + d] · yT[d·len + j] for j in [0, m): dot products of one vector with m transposed rows. */
    private static void dotsT(double[] out, double[] x, int xo, double[] yT, int len, int m, int hd) {
        int j = 0;
        for (int bound = VS.loopBound(m); j < bound; j += VS.length()) {
            DoubleVector acc = DoubleVector.zero(VS);
            for (int d = 0; d < hd; d++) acc = DoubleVector.fromArray(VS, yT, d * len + j).fma(DoubleVector.broadcast(VS, x[xo + d]), acc);
            acc.intoArray(out, j);
        }
        for (; j < m; j++) {
            double acc = 0;
            for (int d = 0; d < hd; d++) acc = Math.fma(yT[d * len + j], x[xo + d], acc);   // as one lane above
            out[j] = acc;
        }
    }

    /**
     * p[0..a] = softmax over j ≤ a of scale · q·k_j, the keys given transposed (kT, see {@link #transposeHead}). The
     * exponentials run in vector lanes; forward and backward call this same function, so the backward's recomputed
     * probabilities are exactly the forward's.
     */
    private static void softmaxScores(double[] p, double[] q, int qo, double[] kT, int len, int a, int hd, double scale) {
        int m = a + 1;
        dotsT(p, q, qo, kT, len, m, hd);
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < m; j++) max = Math.max(max, p[j] *= scale);
        DoubleVector vMax = DoubleVector.broadcast(VS, max), vSum = DoubleVector.zero(VS);
        int j = 0;
        for (int bound = VS.loopBound(m); j < bound; j += VS.length()) {
            DoubleVector e = DoubleVector.fromArray(VS, p, j).sub(vMax).lanewise(VectorOperators.EXP);
            e.intoArray(p, j);
            vSum = vSum.add(e);
        }
        double sum = vSum.reduceLanes(VectorOperators.ADD);
        for (; j < m; j++) sum += p[j] = Math.exp(p[j] - max);
        for (j = 0; j < m; j++) p[j] /= sum;
    }

    /**
     * One (query row, key j) pair of {@link #attentionBackward}: dq += ds·k_j, dk_j += ds·q, dv_j += p_j·dOut, the three
     * axpys fused into one pass over the head's lanes (each element gets the same single fma as a separate axpy).
     */
    private static void pairBackward(double[] dq, double[] dk, double[] dv, double[] q, double[] k, double[] dOut, int qo, int ko,
                                     double ds, double pj, int hd) {
        DoubleVector vds = DoubleVector.broadcast(VS, ds), vp = DoubleVector.broadcast(VS, pj);
        int i = 0;
        for (int bound = VS.loopBound(hd); i < bound; i += VS.length()) {
            DoubleVector.fromArray(VS, k, ko + i).fma(vds, DoubleVector.fromArray(VS, dq, qo + i)).intoArray(dq, qo + i);
            DoubleVector.fromArray(VS, q, qo + i).fma(vds, DoubleVector.fromArray(VS, dk, ko + i)).intoArray(dk, ko + i);
            DoubleVector.fromArray(VS, dOut, qo + i).fma(vp, DoubleVector.fromArray(VS, dv, ko + i)).intoArray(dv, ko + i);
        }
        for (; i < hd; i++) {
            dq[qo + i] += ds * k[ko + i];
            dk[ko + i] += ds * q[qo + i];
            dv[ko + i] += pj * dOut[qo + i];
        }
    }

    /**
     * Backward of {@link #attention}, recomputing the probabilities: dp_j = dOut·v_j, ds_j = p_j (dp_j - Σ p dp),
     * dq += scale Σ ds_j k_j, dk_j += scale ds_j q, dv_j += p_j dOut. Split by (sequence, KV head) so that the heads of
     * one group, which share dk and dv, run on one thread.
     */
    private void attentionBackward(Pass P, double[] q, double[] k, double[] v, double[] dOut, double[] dq, double[] dk, double[] dv) {
        final int hd = c.headDim(), heads = c.heads(), kvHeads = c.kvHeads(), qDim = c.qDim(), kvDim = c.kvDim(), group = heads / kvHeads;
        final double scale = 1.0 / Math.sqrt(hd);
        int S = P.seqStart.length;
        Parallel.forRange(S * kvHeads, 1, (from, to) -> {
            int maxLen = maxLen(P);
            double[] p = new double[maxLen], dp = new double[maxLen], kT = new double[hd * maxLen], vT = new double[hd * maxLen];
            for (int i = from; i < to; i++) {
                int s = i / kvHeads, g = i % kvHeads, base = P.seqStart[s], len = P.seqLen[s], kvo = g * hd;
                transposeHead(k, base, len, kvo, kvDim, hd, kT);
                transposeHead(v, base, len, kvo, kvDim, hd, vT);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int a = 0; a < len; a++) {
                        int qo = (base + a) * qDim + h * hd;
                        softmaxScores(p, q, qo, kT, len, a, hd, scale);
                        dotsT(dp, dOut, qo, vT, len, a + 1, hd);       // dp_j = dOut · v_j
                        double dot = 0;
                        for (int j = 0; j <= a; j++) dot += p[j] * dp[j];
                        for (int j = 0; j <= a; j++) {
                            double ds = p[j] * (dp[j] - dot) * scale;
                            pairBackward(dq, dk, dv, q, k, dOut, qo, (base + j) * kvDim + kvo, ds, p[j], hd);
                        }
                    }
                }
            }
        });
    }
}
