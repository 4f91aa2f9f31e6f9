package dev.tiller.kernels.cuda;

import dev.tiller.kernels.VectorOps;
import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Op-level checks of the kernels and cuBLAS wrappers against the CPU, including the backward ops training needs
 * (transposed matmul, weight gradient, RMSNorm and SwiGLU backward, checked against finite differences). Skipped
 * where there is no CUDA device.
 */
class CudaKernelsTest extends DeviceTest {

    CudaKernelsTest() {
        super(42);
    }

    static void close(float[] expected, float[] actual, double tol, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
        }
    }

    @Test
    void rmsnormMatchesTheCpu() {
        int rows = 3, w = 200;
        float[] x = random(rows * w), g = random(w), expected = new float[rows * w];
        for (int r = 0; r < rows; r++) VectorOps.rmsnorm(expected, r * w, x, r * w, g, w, 1e-5f);
        long dx = dev.upload(x), dg = dev.upload(g), out = dev.alloc(4L * rows * w);
        dev.rmsnorm(out, dx, dg, rows, w, 1e-5f);
        close(expected, download(out, rows * w), 1e-5, "rmsnorm");
    }

    /** loss = sum(c * f(x)); its gradient by central differences in double, against the kernel's backward. */
    @Test
    void rmsnormBackwardMatchesFiniteDifferences() {
        int w = 48;
        float eps = 1e-5f;
        float[] x = random(w), g = random(w), c = random(w);
        long dx = dev.alloc(4L * w), dw = dev.alloc(4L * w);
        dev.zero(dx, w); // both accumulate
        dev.zero(dw, w);
        dev.rmsnormBackward(dx, dw, dev.upload(c), dev.upload(x), dev.upload(g), 1, w, eps);
        float[] gx = download(dx, w), gw = download(dw, w);
        for (int i = 0; i < w; i++) {
            double h = 1e-3;
            double[] xp = toDouble(x), xm = toDouble(x);
            xp[i] += h;
            xm[i] -= h;
            double num = (loss(xp, toDouble(g), c, eps) - loss(xm, toDouble(g), c, eps)) / (2 * h);
            assertEquals(num, gx[i], 1e-3 * Math.max(1, Math.abs(num)), "dx[" + i + "]");
            double[] gp = toDouble(g), gm = toDouble(g);
            gp[i] += h;
            gm[i] -= h;
            double numW = (loss(toDouble(x), gp, c, eps) - loss(toDouble(x), gm, c, eps)) / (2 * h);
            assertEquals(numW, gw[i], 1e-3 * Math.max(1, Math.abs(numW)), "dw[" + i + "]");
        }
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static double loss(double[] x, double[] g, float[] c, float eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double r = 1 / Math.sqrt(ss / x.length + eps), l = 0;
        for (int i = 0; i < x.length; i++) l += c[i] * x[i] * r * g[i];
        return l;
    }

    @Test
    void siluMulBackwardMatchesFiniteDifferences() {
        int n = 64;
        float[] gate = random(n), up = random(n), dout = random(n);
        long dg = dev.alloc(4L * n), du = dev.alloc(4L * n);
        dev.siluMulBackward(dg, du, dev.upload(dout), dev.upload(gate), dev.upload(up), n);
        float[] gg = download(dg, n), gu = download(du, n);
        for (int i = 0; i < n; i++) {
            double h = 1e-3, gi = gate[i];
            double num = dout[i] * up[i] * (silu(gi + h) - silu(gi - h)) / (2 * h);
            assertEquals(num, gg[i], 1e-3 * Math.max(1, Math.abs(num)), "dgate[" + i + "]");
            assertEquals(dout[i] * silu(gi), gu[i], 1e-5 * Math.max(1, Math.abs(gu[i])), "dup[" + i + "]");
        }
    }

    static double silu(double g) {
        return g / (1 + Math.exp(-g));
    }

    @Test
    void forwardTransposedAndWeightGradientMatmulsMatchTheCpu() {
        int n = 5, in = 40, out = 24;
        float[] w = random(out * in), x = random(n * in), dy = random(n * out);
        long dw = dev.upload(w), dx = dev.upload(x), ddy = dev.upload(dy);
        long y = dev.alloc(4L * n * out), gx = dev.alloc(4L * n * in), gw = dev.alloc(4L * out * in);
        dev.blas().matmulRowMajor(dw, out, in, Cublas.CUDA_R_32F, dx, n, y);
        dev.blas().matmulTransposedRowMajor(dw, out, in, Cublas.CUDA_R_32F, ddy, n, gx, false);
        dev.blas().weightGradRowMajor(ddy, dx, n, out, in, gw, false);
        float[] ey = new float[n * out], egx = new float[n * in], egw = new float[out * in];
        for (int t = 0; t < n; t++) {
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    ey[t * out + o] += w[o * in + i] * x[t * in + i];
                    egx[t * in + i] += dy[t * out + o] * w[o * in + i];
                    egw[o * in + i] += dy[t * out + o] * x[t * in + i];
                }
            }
        }
        close(ey, download(y, n * out), 1e-4, "y = x W^T");
        close(egx, download(gx, n * in), 1e-4, "dx = dy W");
        close(egw, download(gw, out * in), 1e-4, "dW = dy^T x");
    }

    @Test
    void halfPrecisionGemmIsWithinF16Tolerance() {
        int n = 3, in = 64, out = 16;
        float[] w = random(out * in), x = random(n * in);
        long w32 = dev.upload(w), w16 = dev.alloc(2L * out * in), x32 = dev.upload(x), x16 = dev.alloc(2L * n * in), y = dev.alloc(4L * n * out);
        dev.toHalf(w16, w32, (long) out * in, Cublas.CUDA_R_16F);
        dev.toHalf(x16, x32, (long) n * in, Cublas.CUDA_R_16F);
        dev.blas().matmulRowMajor(w16, out, in, Cublas.CUDA_R_16F, x16, n, y);
        float[] ey = new float[n * out];
        for (int t = 0; t < n; t++) for (int o = 0; o < out; o++) for (int i = 0; i < in; i++) ey[t * out + o] += w[o * in + i] * x[t * in + i];
        close(ey, download(y, n * out), 2e-2, "f16 gemm");
    }

    @Test
    void ropeMatchesTheCpuInBothOrderings() {
        int heads = 2, hd = 16, rows = 3;
        double[] freqs = new double[hd / 2];
        for (int i = 0; i < freqs.length; i++) freqs[i] = Math.pow(10000.0, -2.0 * i / hd);
        int[] pos = {0, 7, 300};
        for (boolean neox : new boolean[]{false, true}) {
            float[] x = random(rows * heads * hd), expected = x.clone();
            for (int r = 0; r < rows; r++) {
                float[] cos = new float[hd / 2], sin = new float[hd / 2];
                for (int i = 0; i < hd / 2; i++) {
                    cos[i] = (float) Math.cos(pos[r] * freqs[i]);
                    sin[i] = (float) Math.sin(pos[r] * freqs[i]);
                }
                for (int h = 0; h < heads; h++) VectorOps.rope(expected, (r * heads + h) * hd, cos, sin, hd, neox);
            }
            long dx = dev.upload(x), dp = dev.alloc(4L * rows);
            dev.copyToDevice(dp, pos, 0, rows);
            dev.rope(dx, dp, dev.upload(freqs), rows, heads, hd, hd, neox);
            close(expected, download(dx, x.length), 1e-5, neox ? "neox rope" : "normal rope");
        }
    }

    /**
     * Causal GQA attention of a few rows at deep positions, by the one-block-per-head kernel and by the split-K
     * (flash-decoding) pair, against a float64 softmax computed here.
     */
    @Test
    void attentionAndSplitAttentionMatchAFloat64Reference() {
        int heads = 4, kvHeads = 2, hd = 64, kvDim = kvHeads * hd, ctx = 1100, rows = 3;
        int[] pos = {0, 700, 1099};
        float[] keys = random(ctx * kvDim), values = random(ctx * kvDim), q = random(rows * heads * hd);
        long dk = dev.upload(keys), dv = dev.upload(values), dq = dev.upload(q), dp = dev.alloc(4L * rows), bases = dev.alloc(16L * rows);
        dev.copyToDevice(dp, pos, 0, rows);
        long[] kb = new long[rows], vb = new long[rows];
        java.util.Arrays.fill(kb, dk);
        java.util.Arrays.fill(vb, dv);
        long bk = dev.alloc(8L * rows), bv = dev.alloc(8L * rows);
        dev.copyToDevice(bk, kb, rows);
        dev.copyToDevice(bv, vb, rows);
        float scale = 0.125f;
        float[] expected = new float[rows * heads * hd];
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kvHeads);
                double[] sc = new double[pos[t] + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j <= pos[t]; j++) {
                    double d = 0;
                    for (int e = 0; e < hd; e++) d += (double) q[(t * heads + h) * hd + e] * keys[j * kvDim + kvh * hd + e];
                    sc[j] = d * scale;
                    max = Math.max(max, sc[j]);
                }
                for (int j = 0; j <= pos[t]; j++) sum += sc[j] = Math.exp(sc[j] - max);
                for (int e = 0; e < hd; e++) {
                    double a = 0;
                    for (int j = 0; j <= pos[t]; j++) a += sc[j] * values[j * kvDim + kvh * hd + e];
                    expected[(t * heads + h) * hd + e] = (float) (a / sum);
                }
            }
        }
        long out = dev.alloc(4L * rows * heads * hd);
        dev.attention(out, dq, bk, bv, dp, rows, heads, kvHeads, hd, scale);
        close(expected, download(out, expected.length), 1e-4, "attention");
        int splits = 5, chunk = 220; // 5 x 220 = 1100 positions; row 0 leaves four chunks empty
        long partial = dev.alloc(4L * rows * heads * splits * hd), ml = dev.alloc(8L * rows * heads * splits), out2 = dev.alloc(4L * rows * heads * hd);
        dev.attentionSplit(out2, partial, ml, dq, bk, bv, dp, rows, heads, kvHeads, hd, scale, chunk, splits);
        close(expected, download(out2, expected.length), 1e-4, "split attention");
    }

    float[] downloadStored(long p, int n, int type) {
        if (type == 0) return download(p, n);
        short[] h = new short[n];
        dev.driver().copyToHost(MemorySegment.ofArray(h), p, 2L * n);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = type == 1 ? Float.float16ToFloat(h[i]) : Float.intBitsToFloat((h[i] & 0xFFFF) << 16);
        return f;
    }

    /** add_rmsnorm: x += branch, then RMSNorm stored as float32, float16 and bfloat16, against the CPU's ops. */
    @Test
    void addRmsnormMatchesTheCpuInEachStoredType() {
        int rows = 3, w = 320;
        float[] g = random(w);
        for (int type = 0; type <= 2; type++) {
            float[] x = random(rows * w), branch = random(rows * w), sum = x.clone(), expected = new float[rows * w];
            for (int r = 0; r < rows; r++) {
                VectorOps.add(sum, r * w, branch, r * w, w);
                VectorOps.rmsnorm(expected, r * w, sum, r * w, g, w, 1e-6f);
            }
            long dx = dev.upload(x), db = dev.upload(branch), dg = dev.upload(g), out = dev.alloc(4L * rows * w);
            dev.addRmsnorm(dx, db, out, dg, rows, w, 1e-6f, type);
            close(sum, download(dx, rows * w), 1e-6, "x after the residual add");
            close(expected, downloadStored(out, rows * w, type), type == 0 ? 1e-5 : type == 1 ? 2e-3 : 1e-2, "add_rmsnorm type " + type);
        }
    }

    /**
     * add_rmsnorm with the steering adds of the point after the residual add: x += branch, += s · v (every row), +=
     * s_r · v_r (a per-row table; row 1 has none), each rounded as a product then a sum (add_row_vector's and
     * add_row_table's rounding), so x equals the CPU's to the bit; the norm as above.
     */
    @Test
    void addRmsnormAddsTheSteeringOfThePointBeforeTheNorm() {
        int rows = 3, w = 320;
        float[] g = random(w), x = random(rows * w), branch = random(rows * w), v = random(w), v0 = random(w), v2 = random(w);
        float s = 0.7f;
        float[] rowScale = {1.3f, 0f, -0.4f};
        float[][] rowVec = {v0, null, v2};
        float[] sum = x.clone(), expected = new float[rows * w];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < w; i++) {
                float y = sum[r * w + i] + branch[r * w + i];
                y = y + s * v[i];
                if (rowVec[r] != null) y = y + rowScale[r] * rowVec[r][i];
                sum[r * w + i] = y;
            }
            VectorOps.rmsnorm(expected, r * w, sum, r * w, g, w, 1e-6f);
        }
        long dx = dev.upload(x), db = dev.upload(branch), dg = dev.upload(g), dv = dev.upload(v), out = dev.alloc(4L * rows * w);
        long table = dev.alloc(8L * rows), scales = dev.upload(rowScale);
        dev.copyToDevice(table, new long[]{dev.upload(v0), 0, dev.upload(v2)}, rows);
        dev.addRmsnorm(dx, db, dv, s, table, scales, out, dg, rows, w, 1e-6f, 0);
        assertArrayEquals(sum, download(dx, rows * w), "x after the residual and steering adds");
        close(expected, downloadStored(out, rows * w, 0), 1e-5, "add_rmsnorm with steering");
    }

    /** qkv_rope_store: biases, RoPE of q and k (both orderings, partial rotation), k and v into the cache at the position. */
    @Test
    void qkvRopeStoreMatchesBiasRopeAndStoreOnTheCpu() {
        int heads = 4, kvHeads = 2, hd = 16, rot = 12, qDim = heads * hd, kvDim = kvHeads * hd, stride = qDim + 2 * kvDim, rows = 2, ctx = 40;
        int[] pos = {3, 37};
        double[] freqs = new double[rot / 2];
        for (int i = 0; i < freqs.length; i++) freqs[i] = Math.pow(10000.0, -2.0 * i / rot);
        for (boolean neox : new boolean[]{false, true}) {
            float[] qkv = random(rows * stride), bq = random(qDim), bk = random(kvDim), bv = random(kvDim);
            float[] eq = new float[rows * qDim], ek = new float[rows * kvDim], ev = new float[rows * kvDim];
            for (int r = 0; r < rows; r++) {
                float[] cos = new float[rot / 2], sin = new float[rot / 2];
                for (int i = 0; i < rot / 2; i++) {
                    cos[i] = (float) Math.cos(pos[r] * freqs[i]);
                    sin[i] = (float) Math.sin(pos[r] * freqs[i]);
                }
                for (int j = 0; j < qDim; j++) eq[r * qDim + j] = qkv[r * stride + j] + bq[j];
                for (int j = 0; j < kvDim; j++) {
                    ek[r * kvDim + j] = qkv[r * stride + qDim + j] + bk[j];
                    ev[r * kvDim + j] = qkv[r * stride + qDim + kvDim + j] + bv[j];
                }
                for (int h = 0; h < heads; h++) VectorOps.rope(eq, r * qDim + h * hd, cos, sin, rot, neox);
                for (int h = 0; h < kvHeads; h++) VectorOps.rope(ek, r * kvDim + h * hd, cos, sin, rot, neox);
            }
            long cacheK = dev.alloc(4L * ctx * kvDim), cacheV = dev.alloc(4L * ctx * kvDim), bk2 = dev.alloc(8L * rows), bv2 = dev.alloc(8L * rows);
            dev.copyToDevice(bk2, new long[]{cacheK, cacheK}, rows);
            dev.copyToDevice(bv2, new long[]{cacheV, cacheV}, rows);
            long dp = dev.alloc(4L * rows), qOut = dev.alloc(4L * rows * qDim);
            dev.copyToDevice(dp, pos, 0, rows);
            dev.qkvRopeStore(dev.upload(qkv), stride, qOut, dev.upload(bq), dev.upload(bk), dev.upload(bv), dp, dev.upload(freqs), bk2, bv2, rows,
                    heads, kvHeads, hd, rot, neox);
            close(eq, download(qOut, rows * qDim), 1e-5, "q " + neox);
            float[] keys = download(cacheK, ctx * kvDim), values = download(cacheV, ctx * kvDim);
            for (int r = 0; r < rows; r++) {
                close(java.util.Arrays.copyOfRange(ek, r * kvDim, (r + 1) * kvDim), java.util.Arrays.copyOfRange(keys, pos[r] * kvDim, (pos[r] + 1) * kvDim),
                        1e-5, "k row " + r + " " + neox);
                close(java.util.Arrays.copyOfRange(ev, r * kvDim, (r + 1) * kvDim), java.util.Arrays.copyOfRange(values, pos[r] * kvDim, (pos[r] + 1) * kvDim),
                        1e-6, "v row " + r);
            }
        }
    }

    /** silu_mul_store over gate|up rows, and add_row_table with one row left alone. */
    @Test
    void siluMulStoreAndAddRowTableMatchTheCpu() {
        int rows = 3, ffn = 96;
        float[] gu = random(rows * 2 * ffn), expected = new float[rows * ffn];
        for (int r = 0; r < rows; r++) {
            float[] gate = java.util.Arrays.copyOfRange(gu, r * 2 * ffn, r * 2 * ffn + ffn), up = java.util.Arrays.copyOfRange(gu, r * 2 * ffn + ffn, (r + 1) * 2 * ffn);
            VectorOps.siluMul(gate, 0, up, 0, ffn);
            System.arraycopy(gate, 0, expected, r * ffn, ffn);
        }
        long out = dev.alloc(4L * rows * ffn);
        dev.siluMulStore(out, dev.upload(gu), ffn, (long) rows * ffn, 0);
        close(expected, download(out, rows * ffn), 1e-5, "silu_mul_store");
        dev.siluMulStore(out, dev.upload(gu), ffn, (long) rows * ffn, 1);
        close(expected, downloadStored(out, rows * ffn, 1), 2e-3, "silu_mul_store f16");

        int w = 40;
        float[] y = random(rows * w), a = random(w), b = random(w), want = y.clone();
        float[] scales = {0.5f, 0f, -2f};
        VectorOps.axpy(want, 0, 0.5f, a, 0, w);
        VectorOps.axpy(want, 2 * w, -2f, b, 0, w);
        long dy = dev.upload(y), va = dev.upload(a), vb = dev.upload(b), ptrs = dev.alloc(8L * rows), sc = dev.upload(scales);
        dev.copyToDevice(ptrs, new long[]{va, 0, vb}, rows);
        dev.addRowTable(dy, ptrs, sc, rows, w);
        close(want, download(dy, rows * w), 1e-6, "add_row_table");
    }
}
