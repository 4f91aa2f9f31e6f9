package dev.tiller.kernels;

import jdk.incubator.vector.FloatVector;
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
     * gate[i] = silu(gate[i]) * up[i], with silu(g) = g / (1 + e^-g)   (SwiGLU). Scalar {@link Math#exp} on purpose: the
     * Vector API's EXP gives different bits interpreted and compiled, so a job split over JVMs (Spark executors at
     * different JIT stages) stopped reproducing the single-machine tokens. A prompt's activation is split over threads
     * by the caller instead.
     */
    public static void siluMul(float[] gate, int gOff, float[] up, int uOff, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[gOff + i];
            gate[gOff + i] = g / (1.0f + (float) Math.exp(-g)) * up[uOff + i];
        }
    }

    /**
     * gate[i] = gelu(gate[i]) * up[i] with GELU's tanh approximation, 0.5·g·(1 + tanh(sqrt(2/π)·(g + 0.044715·g³)))
     * (GeGLU, as gemma's {@code gelu_pytorch_tanh}); scalar tanh for the reason given at {@link #siluMul}.
     */
    public static void geluTanhMul(float[] gate, int gOff, float[] up, int uOff, int n) {
        final float c = (float) Math.sqrt(2 / Math.PI);
        for (int i = 0; i < n; i++) {
            float g = gate[gOff + i];
            gate[gOff + i] = 0.5f * g * (1f + (float) Math.tanh(c * (g + 0.044715f * g * g * g))) * up[uOff + i];
        }
    }

    /** x[i] = cap · tanh(x[i] / cap) over x[off, off+n): soft-capping keeps values within (-cap, cap) (gemma2). */
    public static void softcap(float[] x, int off, int n, float cap) {
        for (int i = 0; i < n; i++) x[off + i] = cap * (float) Math.tanh(x[off + i] / cap);
    }

    /** x[off, off+n) *= a. */
    public static void scale(float[] x, int off, int n, float a) {
        for (int i = 0; i < n; i++) x[off + i] *= a;
    }

    /** In-place softmax over x[off, off+n): subtract the max for stability, exponentiate, normalize. */
    public static void softmax(float[] x, int off, int n) {
        // scalar exp: bit-identical results whether interpreted or compiled (see siluMul)
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < n; i++) x[off + i] *= inv;
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
