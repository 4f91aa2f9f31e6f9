package dev.tiller.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The element-wise and row-wise operations of a transformer block, on float arrays with offsets (one row of a
 * [tokens][width] activation matrix at a time). Each sits next to the formula it computes.
 */
public final class VectorOps {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** out = x / sqrt(mean(x^2) + eps) * weight   (RMSNorm; out may alias x). */
    public static void rmsnorm(float[] out, int outOff, float[] x, int xOff, float[] weight, int n, float eps) {
        float ss = sumOfSquares(x, xOff, n);
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        int i = 0;
        FloatVector vs = FloatVector.broadcast(S, scale);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, x, xOff + i).mul(vs).mul(FloatVector.fromArray(S, weight, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = x[xOff + i] * scale * weight[i];
    }

    public static float sumOfSquares(float[] x, int off, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, off + i);
            acc = v.fma(v, acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += x[off + i] * x[off + i];
        return s;
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    /** y += a * x */
    public static void axpy(float[] y, int yOff, float a, float[] x, int xOff, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(S, a);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, x, xOff + i).fma(va, FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    /** y += x */
    public static void add(float[] y, int yOff, float[] x, int xOff, int n) {
        int i = 0;
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector.fromArray(S, y, yOff + i).add(FloatVector.fromArray(S, x, xOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += x[xOff + i];
    }

    /**
     * gate[i] = silu(gate[i]) * up[i], with silu(g) = g / (1 + e^-g)   (SwiGLU), e^-g by {@link #exp}. Not the Vector
     * API's EXP: that one gives different bits interpreted and compiled, so a job split over JVMs (Spark executors at
     * different JIT stages) stopped reproducing the single-machine tokens; {@link #exp} is made of IEEE operations that
     * every mode computes alike. A prompt's activation is split over threads by the caller.
     */
    public static void siluMul(float[] gate, int gOff, float[] up, int uOff, int n) {
        int i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, gOff + i);
            g.div(exp(g.neg()).add(one)).mul(FloatVector.fromArray(S, up, uOff + i)).intoArray(gate, gOff + i);
        }
        for (; i < n; i++) {
            float g = gate[gOff + i];
            gate[gOff + i] = g / (exp(-g) + 1f) * up[uOff + i];
        }
    }

    /**
     * gate[i] = gelu(gate[i]) * up[i] with GELU's tanh approximation, 0.5·g·(1 + tanh(sqrt(2/π)·(g + 0.044715·g³)))
     * (GeGLU, as gemma's {@code gelu_pytorch_tanh}); 1 + tanh(u) = 2 - 2 / (e^{2u} + 1), with {@link #exp}.
     */
    public static void geluTanhMul(float[] gate, int gOff, float[] up, int uOff, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        int i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f), two = FloatVector.broadcast(S, 2f);
        for (int upper = S.loopBound(n); i < upper; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, gOff + i);
            FloatVector u = g.mul(g).mul(g).mul(0.044715f).add(g).mul(c);
            FloatVector onePlusTanh = two.sub(two.div(exp(u.add(u)).add(one)));
            g.mul(0.5f).mul(onePlusTanh).mul(FloatVector.fromArray(S, up, uOff + i)).intoArray(gate, gOff + i);
        }
        for (; i < n; i++) {
            float g = gate[gOff + i];
            float u = (g * g * g * 0.044715f + g) * c;
            float onePlusTanh = 2f - 2f / (exp(u + u) + 1f);
            gate[gOff + i] = g * 0.5f * onePlusTanh * up[uOff + i];
        }
    }

    // e^t from IEEE operations only (compare, multiply-add, add, conversion, shift), so that interpreted, C1 and C2
    // code give the same bits: 0 below t = -87 (so a masked -inf score weighs exactly nothing), t clamped to 88 above
    // (e^t stays a finite normal float), t = n·ln2 + r with n = round(t/ln2)
    // (the 1.5·2^23 trick rounds to nearest) and |r| <= ln2/2 by Cody-Waite (ln2 split in a 15-bit head, exact in
    // n·head, and a tail), e^r by its degree-7 Taylor polynomial (truncation below 5e-9), times 2^n made in the exponent
    // bits. Within a few float ulps of Math.exp (VectorOpsTest). The scalar form is the same operations in the same order.
    private static final float LOG2E = 1.44269504f, LN2_HI = 0.693145751953125f, LN2_LO = 1.42860677e-6f, ROUND = 12582912f;
    private static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    private static final FloatVector V_LN2_HI = FloatVector.broadcast(S, -LN2_HI), V_LN2_LO = FloatVector.broadcast(S, -LN2_LO);
    private static final FloatVector V_C5 = FloatVector.broadcast(S, C5), V_C4 = FloatVector.broadcast(S, C4), V_C3 = FloatVector.broadcast(S, C3);
    private static final FloatVector V_C2 = FloatVector.broadcast(S, C2), V_ONE = FloatVector.broadcast(S, 1f);

    static FloatVector exp(FloatVector t) {
        VectorMask<Float> underflow = t.lt(-87f);
        t = t.max(-87f).min(88f);
        FloatVector n = t.fma(LOG2E, ROUND).sub(ROUND);
        FloatVector r = n.fma(V_LN2_HI, t);
        r = n.fma(V_LN2_LO, r);
        FloatVector p = r.fma(C7, C6).fma(r, V_C5).fma(r, V_C4).fma(r, V_C3).fma(r, V_C2).fma(r, V_ONE).fma(r, V_ONE);
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats()).blend(0f, underflow);
    }

    static float exp(float t) {
        if (t < -87f) return 0f;
        t = Math.min(t, 88f);
        float n = Math.fma(t, LOG2E, ROUND) - ROUND;
        float r = Math.fma(n, -LN2_HI, t);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(Math.fma(r, C7, C6), r, C5), r, C4), r, C3), r, C2), r, 1f), r, 1f);
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** x[i] = cap · tanh(x[i] / cap) over x[off, off+n): soft-capping keeps values within (-cap, cap) (gemma2). */
    public static void softcap(float[] x, int off, int n, float cap) {
        for (int i = 0; i < n; i++) x[off + i] = cap * (float) Math.tanh(x[off + i] / cap);
    }

    /** x[off, off+n) *= a. */
    public static void scale(float[] x, int off, int n, float a) {
        for (int i = 0; i < n; i++) x[off + i] *= a;
    }

    /**
     * In-place softmax over x[off, off+n): subtract the max for stability, exponentiate ({@link #exp}: a masked -inf
     * position gives exactly 0), normalize.
     */
    public static void softmax(float[] x, int off, int n) {
        int i = 0, upper = S.loopBound(n);
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; i < upper; i += S.length()) vmax = vmax.max(FloatVector.fromArray(S, x, off + i));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[off + i]);
        FloatVector vsum = FloatVector.zero(S), shift = FloatVector.broadcast(S, max);
        for (i = 0; i < upper; i += S.length()) {
            FloatVector e = exp(FloatVector.fromArray(S, x, off + i).sub(shift));
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = vsum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        FloatVector vinv = FloatVector.broadcast(S, inv);
        for (i = 0; i < upper; i += S.length()) FloatVector.fromArray(S, x, off + i).mul(vinv).intoArray(x, off + i);
        for (; i < n; i++) x[off + i] *= inv;
    }

    /**
     * Rotary position embedding of one head vector in place. {@code cos}/{@code sin} hold the rotation of each pair
     * for this position ({@code rotDims/2} entries). NORMAL ordering rotates adjacent pairs (x[2i], x[2i+1]) as in the
     * original RoPE and llama.cpp's llama; NEOX ordering rotates (x[i], x[i + rotDims/2]) as GPT-NeoX, Qwen and HF's
     * rotate_half do. Dimensions past {@code rotDims} are left unchanged.
     */
    public static void rope(float[] x, int off, float[] cos, float[] sin, int rotDims, boolean neox) {
        int half = rotDims / 2;
        if (neox) {
            for (int i = 0; i < half; i++) {
                float a = x[off + i], b = x[off + i + half];
                x[off + i] = a * cos[i] - b * sin[i];
                x[off + i + half] = a * sin[i] + b * cos[i];
            }
        } else {
            for (int i = 0; i < half; i++) {
                float a = x[off + 2 * i], b = x[off + 2 * i + 1];
                x[off + 2 * i] = a * cos[i] - b * sin[i];
                x[off + 2 * i + 1] = a * sin[i] + b * cos[i];
            }
        }
    }

    private VectorOps() {}
}
