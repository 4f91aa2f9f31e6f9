package dev.tiller.engine.model;

import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A deliberately plain float64 transformer forward (no cache, no batching, no kernels), written straight from the
 * papers' formulas for the tests to compare the engine against. Reads F32 weights only.
 */
final class Float64Reference {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ModelConfig c;
    private final TensorSource src;

    Float64Reference(ModelConfig c, TensorSource src) {
        this.c = c;
        this.src = src;
    }

    double[] vec(String name) {
        Tensor t = src.tensor(name);
        double[] v = new double[(int) t.elementCount()];
        for (int i = 0; i < v.length; i++) v[i] = t.data().get(F32, 4L * i);
        return v;
    }

    /** rows x cols matrix of a weight with ggml ne = [cols, rows]. */
    double[][] mat(String name) {
        Tensor t = src.tensor(name);
        int cols = (int) t.ne(0), rows = (int) t.ne(1);
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) m[r][i] = t.data().get(F32, 4L * ((long) r * cols + i));
        return m;
    }

    static double[] matvec(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int r = 0; r < w.length; r++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) s += w[r][i] * x[i];
            y[r] = s;
        }
        return y;
    }

    static double[] rmsnorm(double[] x, int off, int n, double[] w, double eps) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += x[off + i] * x[off + i];
        double inv = 1 / Math.sqrt(ss / n + eps);
        double[] y = new double[n];
        for (int i = 0; i < n; i++) y[i] = x[off + i] * inv * w[i];
        return y;
    }

    /** Rotates one head (neox: pairs (i, i+d/2); else (2i, 2i+1)). */
    void rope(double[] v, int off, int pos) {
        int d = c.ropeDims(), half = d / 2;
        for (int i = 0; i < half; i++) {
            double freq = Math.pow(c.ropeTheta(), -2.0 * i / d);
            double a = pos * freq, cos = Math.cos(a), sin = Math.sin(a);
            int i0 = c.ropeNeox() ? off + i : off + 2 * i;
            int i1 = c.ropeNeox() ? off + i + half : off + 2 * i + 1;
            double x0 = v[i0], x1 = v[i1];
            v[i0] = x0 * cos - x1 * sin;
            v[i1] = x0 * sin + x1 * cos;
        }
    }

    /** Logits of every position for the token sequence. */
    double[][] forward(int[] tokens) {
        int n = tokens.length, dim = c.dim(), hd = c.headDim();
        double[][] emb = mat("token_embd.weight");
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = emb[tokens[t]].clone();
        for (int l = 0; l < c.layers(); l++) {
            String b = "blk." + l + ".";
            double[] an = vec(b + "attn_norm.weight");
            double[][] wq = mat(b + "attn_q.weight"), wk = mat(b + "attn_k.weight"), wv = mat(b + "attn_v.weight"), wo = mat(b + "attn_output.weight");
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] h = rmsnorm(x[t], 0, dim, an, c.rmsEps());
                q[t] = matvec(wq, h);
                k[t] = matvec(wk, h);
                v[t] = matvec(wv, h);
                if (src.tensorOrNull(b + "attn_q.bias") != null) {
                    addInto(q[t], vec(b + "attn_q.bias"));
                    addInto(k[t], vec(b + "attn_k.bias"));
                    addInto(v[t], vec(b + "attn_v.bias"));
                }
                if (src.tensorOrNull(b + "attn_q_norm.weight") != null) {
                    double[] qn = vec(b + "attn_q_norm.weight"), kn = vec(b + "attn_k_norm.weight");
                    for (int h0 = 0; h0 < c.heads(); h0++) System.arraycopy(rmsnorm(q[t], h0 * hd, hd, qn, c.rmsEps()), 0, q[t], h0 * hd, hd);
                    for (int h0 = 0; h0 < c.kvHeads(); h0++) System.arraycopy(rmsnorm(k[t], h0 * hd, hd, kn, c.rmsEps()), 0, k[t], h0 * hd, hd);
                }
                for (int h0 = 0; h0 < c.heads(); h0++) rope(q[t], h0 * hd, t);
                for (int h0 = 0; h0 < c.kvHeads(); h0++) rope(k[t], h0 * hd, t);
            }
            for (int t = 0; t < n; t++) {
                double[] att = new double[c.qDim()];
                for (int h0 = 0; h0 < c.heads(); h0++) {
                    int kvh = h0 / (c.heads() / c.kvHeads());
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double d = 0;
                        for (int i = 0; i < hd; i++) d += q[t][h0 * hd + i] * k[j][kvh * hd + i];
                        s[j] = d / Math.sqrt(hd);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - max));
                    for (int j = 0; j <= t; j++) for (int i = 0; i < hd; i++) att[h0 * hd + i] += s[j] / sum * v[j][kvh * hd + i];
                }
                addInto(x[t], matvec(wo, att));
            }
            double[] fn = vec(b + "ffn_norm.weight");
            double[][] wg = mat(b + "ffn_gate.weight"), wu = mat(b + "ffn_up.weight"), wd = mat(b + "ffn_down.weight");
            for (int t = 0; t < n; t++) {
                double[] h = rmsnorm(x[t], 0, dim, fn, c.rmsEps());
                double[] g = matvec(wg, h), u = matvec(wu, h);
                for (int i = 0; i < g.length; i++) g[i] = g[i] / (1 + Math.exp(-g[i])) * u[i];
                addInto(x[t], matvec(wd, g));
            }
        }
        double[] on = vec("output_norm.weight");
        double[][] out = src.tensorOrNull("output.weight") != null ? mat("output.weight") : emb;
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) logits[t] = matvec(out, rmsnorm(x[t], 0, dim, on, c.rmsEps()));
        return logits;
    }

    private static void addInto(double[] y, double[] x) {
        for (int i = 0; i < y.length; i++) y[i] += x[i];
    }
}
