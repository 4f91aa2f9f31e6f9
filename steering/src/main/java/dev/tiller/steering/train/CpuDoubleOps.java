package dev.tiller.steering.train;

import dev.tiller.engine.model.ModelConfig;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.backward.DoubleMatMul;
import dev.tiller.kernels.backward.FloatMatMul;
import dev.tiller.models.arch.RopeFrequencies;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float64 reference backend of {@link DiffOps}, on the host: weights read in place (any format) and widened to
 * double, every sum in double, rows split over the worker pool. It is what the GPU's float32 gradients are checked
 * against, and finite differences of it check its own backward.
 */
public final class CpuDoubleOps implements DiffOps {
    private final ModelConfig c;
    private final double[] freqs;
    private final boolean floatProducts;
    private double[][] cosTab = new double[0][], sinTab = new double[0][];

    /** Everything in float64: the reference the GPU's gradients and finite differences are checked against. */
    public CpuDoubleOps(ModelConfig config) {
        this(config, false);
    }

    /**
     * With {@code floatProducts}, the products with the weights (nearly all of a step's arithmetic) run in float32 with
     * the engine's kernels — {@link MatMul} for {@code X·Wᵀ} (never its one-token path, whose activations are
     * quantized), {@link FloatMatMul} for {@code dY·W} — and everything else stays float64 ("mixed"): about twice as
     * fast on wide models, gradients within ~1e-5 of the float64 ones.
     */
    public CpuDoubleOps(ModelConfig config, boolean floatProducts) {
        this.c = config;
        this.floatProducts = floatProducts;
        this.freqs = RopeFrequencies.inverse(c.ropeDims(), c.ropeTheta(), c.ropeFreqScale(), c.ropeFreqFactors());
    }

    /** A host buffer: a double array. */
    static final class Host implements Buf {
        final double[] a;

        Host(double[] a) {
            this.a = a;
        }

        @Override
        public long length() {
            return a.length;
        }
    }

    private static double[] a(Buf b) {
        return ((Host) b).a;
    }

    @Override
    public String describe() {
        return floatProducts ? "CPU float64, float32 products" : "CPU float64";
    }

    // ---- memory ----

    @Override
    public int bytesPerNumber() {
        return Double.BYTES;
    }

    @Override
    public long availableBytes() {
        Runtime r = Runtime.getRuntime();
        return r.maxMemory() - (r.totalMemory() - r.freeMemory());
    }

    @Override
    public Buf zeros(long n) {
        return new Host(new double[Math.toIntExact(n)]);
    }

    @Override
    public Buf copy(Buf src) {
        return new Host(a(src).clone());
    }

    @Override
    public void copyInto(Buf dst, Buf src) {
        System.arraycopy(a(src), 0, a(dst), 0, a(src).length);
    }

    @Override
    public void zero(Buf b) {
        java.util.Arrays.fill(a(b), 0);
    }

    @Override
    public Buf upload(double[] host) {
        return new Host(host.clone());
    }

    @Override
    public double[] download(Buf b) {
        return a(b).clone();
    }

    @Override
    public void release(Buf b) {}

    // ---- embedding, slices, adds ----

    @Override
    public void embed(WeightMatrix table, int[] tokens, int[] rows, Buf x, int dim) {
        for (int i = 0; i < tokens.length; i++) DoubleMatMul.row(table, tokens[i], a(x), rows[i] * dim);
    }

    @Override
    public void slices(Buf dst, long[] dstOff, Buf src, long[] srcOff, int width, boolean accumulate) {
        double[] d = a(dst), s = a(src);
        for (int i = 0; i < dstOff.length; i++) {
            int o = Math.toIntExact(dstOff[i]), so = Math.toIntExact(srcOff[i]);
            if (!accumulate) java.util.Arrays.fill(d, o, o + width, 0);
            DoubleMatMul.axpy(d, o, 1, s, so, width);
        }
    }

    @Override
    public void addRowVector(Buf y, int rows, Buf v, long vOff, int width) {
        for (int t = 0; t < rows; t++) DoubleMatMul.axpy(a(y), t * width, 1, a(v), (int) vOff, width);
    }

    @Override
    public void addBias(Buf y, int rows, float[] bias) {
        double[] ya = a(y);
        int d = bias.length;
        for (int t = 0; t < rows; t++) for (int i = 0; i < d; i++) ya[t * d + i] += bias[i];
    }

    @Override
    public void addColumnSums(Buf out, long outOff, Buf y, int rows, int width) {
        for (int t = 0; t < rows; t++) DoubleMatMul.axpy(a(out), (int) outOff, 1, a(y), t * width, width);
    }

    @Override
    public void add(Buf y, Buf x) {
        DoubleMatMul.axpy(a(y), 0, 1, a(x), 0, a(y).length);
    }

    // ---- RMSNorm ----

    @Override
    public Buf rmsnorm(Buf out, Buf x, float[] weight, int rows, int d, float eps) {
        return new Host(rmsnorm(a(out), a(x), weight, rows, d, eps));
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

    /** dx[r] += d out / d x given dy: w*dy*inv - x * inv^3 / d * Σ(w*dy*x). */
    @Override
    public void rmsnormBackward(Buf dxb, Buf xb, Buf saved, float[] weight, Buf dyb, int rows, int d, float eps) {
        double[] dx = a(dxb), x = a(xb), rstd = a(saved), dy = a(dyb);
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

    /** Rows of width d per parallel task: about POINTWISE_CHUNK numbers, so that a task outweighs handing it out. */
    static int minRows(int d) {
        return Math.max(1, POINTWISE_CHUNK / Math.max(1, d));
    }

    static final int POINTWISE_CHUNK = 8192;

    // ---- products ----

    @Override
    public void matmul(WeightMatrix w, Buf x, int n, Buf y) {
        if (!floatProducts) {
            DoubleMatMul.matmul(w, a(x), n, a(y));
            return;
        }
        // one row is padded to two: MatMul's one-token path quantizes the activations (Q8_0 &c.); the others do not
        int m = Math.max(2, n);
        float[] xf = new float[m * w.cols()], yf = new float[m * w.rows()];
        double[] xa = a(x), ya = a(y);
        for (int i = 0; i < n * w.cols(); i++) xf[i] = (float) xa[i];
        MatMul.matmul(w, xf, m, yf);
        for (int i = 0; i < n * w.rows(); i++) ya[i] = yf[i];
    }

    @Override
    public void matmulTransposeAdd(WeightMatrix w, Buf dy, int n, Buf dx) {
        if (!floatProducts) {
            DoubleMatMul.matmulTransposeAdd(w, a(dy), n, a(dx));
            return;
        }
        double[] dya = a(dy), dxa = a(dx);
        float[] dyf = new float[n * w.rows()], dxf = new float[n * w.cols()];
        for (int i = 0; i < dyf.length; i++) dyf[i] = (float) dya[i];
        FloatMatMul.matmulTransposeAdd(w, dyf, n, dxf);
        for (int i = 0; i < dxf.length; i++) dxa[i] += dxf[i];
    }

    // ---- RoPE ----

    /** RoPE of every head of every row (token rows are independent: split over the worker pool). */
    @Override
    public void rope(Buf xb, int heads, Packing pk, boolean inverse) {
        double[] x = a(xb);
        final int hd = c.headDim(), width = heads * hd;
        ensureRope(pk.maxLength());
        Parallel.forRange(pk.rows(), minRows(width), (from, to) -> {
            for (int t = from; t < to; t++) for (int h = 0; h < heads; h++) rope(x, t * width + h * hd, pk.pos()[t], inverse);
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

    private synchronized void ensureRope(int len) {
        if (cosTab.length >= len) return;
        int half = c.ropeDims() / 2;
        double[][] nc = new double[len][half], ns = new double[len][half];
        for (int p = 0; p < len; p++) {
            for (int i = 0; i < half; i++) {
                double ang = p * freqs[i];
                nc[p][i] = Math.cos(ang);
                ns[p][i] = Math.sin(ang);
            }
        }
        cosTab = nc;
        sinTab = ns;
    }

    // ---- attention ----

    /**
     * Causal grouped-query attention inside each sequence: the row at position p, head h, attends to positions
     * first..p of its own sequence (first = p − window + 1 on a sliding layer, else 0) with KV head h / (heads / kvHeads).
     */
    @Override
    public void attention(Buf qb, Buf kb, Buf vb, Buf outb, Packing pk, Attention at) {
        double[] q = a(qb), k = a(kb), v = a(vb), out = a(outb);
        final int hd = c.headDim(), heads = c.heads(), qDim = c.qDim(), kvDim = c.kvDim(), group = heads / c.kvHeads();
        final int maxLen = pk.maxLength();
        Parallel.forRange(pk.sequences() * heads, 1, (from, to) -> {
            double[] p = new double[maxLen], kT = new double[hd * maxLen];
            for (int i = from; i < to; i++) {
                int s = i / heads, h = i % heads, base = pk.seqStart()[s], len = pk.seqLen()[s], kvo = (h / group) * hd;
                transposeHead(k, base, len, kvo, kvDim, hd, kT);
                for (int t = 0; t < len; t++) {
                    int qo = (base + t) * qDim + h * hd, first = first(t, at);
                    softmaxScores(p, q, qo, kT, len, t, hd, at, first, null);
                    java.util.Arrays.fill(out, qo, qo + hd, 0);
                    for (int j = first; j <= t; j++) DoubleMatMul.axpy(out, qo, p[j], v, (base + j) * kvDim + kvo, hd);
                }
            }
        });
    }

    /** The first position a query at position t sees. */
    private static int first(int t, Attention at) {
        return at.window() > 0 ? Math.max(0, t - at.window() + 1) : 0;
    }

    /**
     * Backward of {@link #attention}, recomputing the probabilities: dp_j = dOut·v_j, ds_j = p_j (dp_j - Σ p dp) · scale
     * (times 1 − (s_j / cap)² through a soft-cap), dq += Σ ds_j k_j, dk_j += ds_j q, dv_j += p_j dOut. Split by
     * (sequence, KV head) so that the heads of one group, which share dk and dv, run on one thread.
     */
    @Override
    public void attentionBackward(Buf qb, Buf kb, Buf vb, Buf dOutb, Buf dqb, Buf dkb, Buf dvb, Packing pk, Attention at) {
        double[] q = a(qb), k = a(kb), v = a(vb), dOut = a(dOutb), dq = a(dqb), dk = a(dkb), dv = a(dvb);
        final int hd = c.headDim(), heads = c.heads(), kvHeads = c.kvHeads(), qDim = c.qDim(), kvDim = c.kvDim(), group = heads / kvHeads;
        final double scale = at.scale(), cap = at.cap();
        final int maxLen = pk.maxLength();
        Parallel.forRange(pk.sequences() * kvHeads, 1, (from, to) -> {
            double[] p = new double[maxLen], dp = new double[maxLen], kT = new double[hd * maxLen], vT = new double[hd * maxLen];
            double[] capped = cap > 0 ? new double[maxLen] : null;
            for (int i = from; i < to; i++) {
                int s = i / kvHeads, g = i % kvHeads, base = pk.seqStart()[s], len = pk.seqLen()[s], kvo = g * hd;
                transposeHead(k, base, len, kvo, kvDim, hd, kT);
                transposeHead(v, base, len, kvo, kvDim, hd, vT);
                for (int h = g * group; h < (g + 1) * group; h++) {
                    for (int t = 0; t < len; t++) {
                        int qo = (base + t) * qDim + h * hd, first = first(t, at);
                        softmaxScores(p, q, qo, kT, len, t, hd, at, first, capped);
                        dotsT(dp, dOut, qo, vT, len, t + 1, hd);       // dp_j = dOut · v_j
                        double dot = 0;
                        for (int j = first; j <= t; j++) dot += p[j] * dp[j];
                        for (int j = first; j <= t; j++) {
                            double ds = p[j] * (dp[j] - dot) * scale;
                            if (capped != null) ds *= 1 - (capped[j] / cap) * (capped[j] / cap);
                            pairBackward(dq, dk, dv, q, k, dOut, qo, (base + j) * kvDim + kvo, ds, p[j], hd);
                        }
                    }
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
     * p[first..a] = softmax over first ≤ j ≤ a of s_j = scale · q·k_j (soft-capped to cap · tanh(s_j / cap) when
     * cap &gt; 0, the capped scores then kept in {@code capped}); p[j] = 0 below first. The keys are given transposed
     * (kT, see {@link #transposeHead}). The exponentials run in vector lanes; forward and backward call this same
     * function, so the backward's recomputed probabilities are exactly the forward's.
     */
    private static void softmaxScores(double[] p, double[] q, int qo, double[] kT, int len, int a, int hd, Attention at, int first, double[] capped) {
        int m = a + 1;
        double scale = at.scale(), cap = at.cap();
        dotsT(p, q, qo, kT, len, m, hd);
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < first; j++) p[j] = Double.NEGATIVE_INFINITY;   // outside the window: e^−∞ = 0
        for (int j = first; j < m; j++) {
            double sj = p[j] * scale;
            if (cap > 0) {
                sj = cap * Math.tanh(sj / cap);
                if (capped != null) capped[j] = sj;
            }
            max = Math.max(max, p[j] = sj);
        }
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

    // ---- losses (row by row on the worker pool) ----

    /** log-softmax of one row into out. */
    private static void logSoftmax(double[] z, int off, int vocab, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, z[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(z[off + i] - max);
        double lse = max + Math.log(sum);
        for (int i = 0; i < vocab; i++) out[i] = z[off + i] - lse;
    }


    @Override
    public double[] logProbs(Buf logits, int rows, int vocab, int[] targets) {
        double[] z = a(logits), out = new double[rows];
        Parallel.forRange(rows, minRows(vocab), (from, to) -> {
            double[] lp = new double[vocab];
            for (int r = from; r < to; r++) {
                logSoftmax(z, r * vocab, vocab, lp);
                out[r] = lp[targets[r]];
            }
        });
        return out;
    }

    @Override
    public void addLogProbGradient(Buf dLogits, Buf logits, int rows, int vocab, int[] targets, double[] coef) {
        double[] z = a(logits), d = a(dLogits);
        Parallel.forRange(rows, minRows(vocab), (from, to) -> {
            double[] lp = new double[vocab];
            for (int r = from; r < to; r++) {
                if (coef[r] == 0) continue;
                int o = r * vocab;
                logSoftmax(z, o, vocab, lp);
                for (int i = 0; i < vocab; i++) d[o + i] -= coef[r] * Math.exp(lp[i]);
                d[o + targets[r]] += coef[r];
            }
        });
    }

    @Override
    public double[] entropies(Buf logits, int rows, int vocab, double[] coef, Buf dLogits) {
        double[] z = a(logits), d = dLogits == null ? null : a(dLogits), out = new double[rows];
        Parallel.forRange(rows, minRows(vocab), (from, to) -> {
            double[] lp = new double[vocab];
            for (int r = from; r < to; r++) {
                int o = r * vocab;
                logSoftmax(z, o, vocab, lp);
                double h = 0;
                for (int i = 0; i < vocab; i++) h -= Math.exp(lp[i]) * lp[i];
                out[r] = h;
                if (d != null) for (int i = 0; i < vocab; i++) d[o + i] += coef[r] * -Math.exp(lp[i]) * (lp[i] + h);
            }
        });
        return out;
    }

    // ---- element-wise ----

    @Override
    public void scale(Buf y, double f) {
        double[] ya = a(y);
        for (int i = 0; i < ya.length; i++) ya[i] *= f;
    }

    @Override
    public void softcap(Buf y, int rows, int width, double cap) {
        double[] ya = a(y);
        Parallel.forRange(rows * width, POINTWISE_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) ya[i] = cap * Math.tanh(ya[i] / cap);
        });
    }

    @Override
    public void softcapBackward(Buf dy, Buf y, double cap) {
        double[] d = a(dy), ya = a(y);
        Parallel.forRange(d.length, POINTWISE_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) d[i] *= 1 - (ya[i] / cap) * (ya[i] / cap);
        });
    }

    // ---- GeGLU: gelu_tanh(g) = g/2 · (1 + tanh(√(2/π) (g + 0.044715 g³))) ----

    private static final double GELU_C = Math.sqrt(2 / Math.PI), GELU_A = 0.044715;

    @Override
    public void geluMul(Buf hb, Buf gateb, Buf upb) {
        double[] h = a(hb), gate = a(gateb), up = a(upb);
        Parallel.forRange(h.length, POINTWISE_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) {
                double g = gate[i];
                h[i] = 0.5 * g * (1 + Math.tanh(GELU_C * (g + GELU_A * g * g * g))) * up[i];
            }
        });
    }

    /** dUp = dh · gelu(g); dGate = dh · up · gelu'(g), gelu'(g) = (1 + t)/2 + g/2 · (1 − t²) · √(2/π)(1 + 3·0.044715 g²). */
    @Override
    public void geluMulBackward(Buf dGateb, Buf dUpb, Buf gateb, Buf upb, Buf dhb) {
        double[] dGate = a(dGateb), dUp = a(dUpb), gate = a(gateb), up = a(upb), dh = a(dhb);
        Parallel.forRange(dh.length, POINTWISE_CHUNK, (from, to) -> {
            for (int i = from; i < to; i++) {
                double g = gate[i], t = Math.tanh(GELU_C * (g + GELU_A * g * g * g));
                dUp[i] = dh[i] * 0.5 * g * (1 + t);
                dGate[i] = dh[i] * up[i] * (0.5 * (1 + t) + 0.5 * g * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * g * g));
            }
        });
    }

    // ---- SwiGLU ----

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
    @Override
    public void siluMul(Buf hb, Buf gateb, Buf upb) {
        double[] h = a(hb), gate = a(gateb), up = a(upb);
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
    @Override
    public void siluMulBackward(Buf dGateb, Buf dUpb, Buf gateb, Buf upb, Buf dhb) {
        double[] dGate = a(dGateb), dUp = a(dUpb), gate = a(gateb), up = a(upb), dh = a(dhb);
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
}
