package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What gemma2 (and Mistral's sliding window) need from the kernels: attention with a score soft cap and a sliding
 * window (forward, split-K forward, backward), GeGLU forward / stored / backward, scaling, logit soft-capping and its
 * backward. Every expectation is computed here in float64 from the math, not through the emulator's references.
 */
class CudaGemmaKernelsTest extends DeviceTest {
    static final int HEADS = 4, KV_HEADS = 2, HD = 8, Q_DIM = HEADS * HD, KV_DIM = KV_HEADS * HD, GROUP = HEADS / KV_HEADS;
    static final float SCALE = (float) (1 / Math.sqrt(HD));
    static final double GELU_C = Math.sqrt(2 / Math.PI);

    CudaGemmaKernelsTest() {
        super(2024);
    }

    // ---------------------------------------------------------------- float64 attention

    static int first(int pos, int window) {
        return window > 0 ? Math.max(0, pos - window + 1) : 0;
    }

    /** scale * q.k of query row t, head h with key row r, then cap * tanh(s / cap) when cap &gt; 0. */
    static double score(double[] q, int t, int h, double[] k, int r, double cap) {
        double s = 0;
        for (int d = 0; d < HD; d++) s += q[t * Q_DIM + h * HD + d] * k[r * KV_DIM + (h / GROUP) * HD + d];
        s *= SCALE;
        return cap > 0 ? cap * Math.tanh(s / cap) : s;
    }

    /** softmax over j = first..pos of the scores of row t, head h with key rows row0 + j. */
    static double[] probabilities(double[] q, double[] k, int t, int h, int row0, int pos, double cap, int window) {
        int f = first(pos, window);
        double[] p = new double[pos + 1];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = f; j <= pos; j++) max = Math.max(max, p[j] = score(q, t, h, k, row0 + j, cap));
        for (int j = f; j <= pos; j++) sum += p[j] = Math.exp(p[j] - max);
        for (int j = f; j <= pos; j++) p[j] /= sum;
        return p;
    }

    /** out[t][h] = sum_j p_j v_(row0[t] + j) over the window of each row. */
    static double[] attention(double[] q, double[] k, double[] v, int[] row0, int[] pos, double cap, int window) {
        double[] out = new double[pos.length * Q_DIM];
        for (int t = 0; t < pos.length; t++) {
            for (int h = 0; h < HEADS; h++) {
                double[] p = probabilities(q, k, t, h, row0[t], pos[t], cap, window);
                for (int j = first(pos[t], window); j <= pos[t]; j++) {
                    for (int d = 0; d < HD; d++) out[t * Q_DIM + h * HD + d] += p[j] * v[(row0[t] + j) * KV_DIM + (h / GROUP) * HD + d];
                }
            }
        }
        return out;
    }

    /** Half the largest |scale q.k| any row sees in its window: a cap at which tanh bends the scores well away from linear. */
    static float halfMaxScore(double[] q, double[] k, int[] row0, int[] pos, int window) {
        double m = 0;
        for (int t = 0; t < pos.length; t++) {
            for (int h = 0; h < HEADS; h++) {
                for (int j = first(pos[t], window); j <= pos[t]; j++) m = Math.max(m, Math.abs(score(q, t, h, k, row0[t] + j, 0)));
            }
        }
        return (float) (0.5 * m);
    }

    long bases(long p, int rows) {
        long b = dev.alloc(8L * rows);
        long[] a = new long[rows];
        java.util.Arrays.fill(a, p);
        dev.copyToDevice(b, a, rows);
        return b;
    }

    /**
     * Rows at positions 0..9 of one cache, window 3, cap half the largest score, through `attention` and through the
     * split pair with chunks of 2 (the row at 9 sees 7..9: chunks 0..2 lie before its window, chunk 3 straddles its
     * start; the row at 2 leaves chunks 2..4 past its position). Also cap alone and window alone.
     */
    @Test
    void attentionWithCapAndWindowMatchesAFloat64Softmax() {
        int ctx = 10, window = 3, chunk = 2, splits = 5;
        int[] pos = {0, 2, 5, 9, 8};
        int rows = pos.length;
        float[] keys = random(ctx * KV_DIM), values = random(ctx * KV_DIM), q = random(rows * Q_DIM);
        double[] kd = toDouble(keys), vd = toDouble(values), qd = toDouble(q);
        int[] row0 = new int[rows];
        long dk = dev.upload(keys), dv = dev.upload(values), dq = dev.upload(q), dp = uploadInts(pos);
        long bk = bases(dk, rows), bv = bases(dv, rows);
        long out = dev.alloc(4L * rows * Q_DIM), partial = dev.alloc(4L * rows * HEADS * splits * HD), ml = dev.alloc(8L * rows * HEADS * splits);
        float cap = halfMaxScore(qd, kd, row0, pos, window);
        assertTrue(cap > 0.5, "cap " + cap);
        float[][] configs = {{cap, window}, {cap, 0}, {0, window}, {0, 0}};
        for (float[] c : configs) {
            float cp = c[0];
            int w = (int) c[1];
            double[] expected = attention(qd, kd, vd, row0, pos, cp, w);
            String what = "cap " + cp + " window " + w;
            dev.attention(out, dq, bk, bv, dp, rows, HEADS, KV_HEADS, HD, SCALE, cp, w);
            close(expected, download(out, expected.length), 1e-5, "attention " + what);
            dev.zero(out, rows * Q_DIM);
            dev.attentionSplit(out, partial, ml, dq, bk, bv, dp, rows, HEADS, KV_HEADS, HD, SCALE, chunk, splits, cp, w);
            close(expected, download(out, expected.length), 1e-5, "split attention " + what);
        }
        // the cap and the window each change the result (the test above would not notice either being ignored otherwise)
        double[] plain = attention(qd, kd, vd, row0, pos, 0, 0), capped = attention(qd, kd, vd, row0, pos, cap, 0), windowed = attention(qd, kd, vd, row0, pos, 0, window);
        double dCap = 0, dWin = 0;
        for (int i = 0; i < plain.length; i++) {
            dCap = Math.max(dCap, Math.abs(plain[i] - capped[i]));
            dWin = Math.max(dWin, Math.abs(plain[i] - windowed[i]));
        }
        assertTrue(dCap > 0.05 && dWin > 0.05, "cap moves outputs by " + dCap + ", window by " + dWin);
    }

    // ---------------------------------------------------------------- attention backward

    /** Two packed sequences of 7 and 4 rows. */
    static final int[] SEQ_START = {0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7}, POSITIONS = {0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3};
    static final int ROWS = SEQ_START.length;

    static double loss(double[] q, double[] k, double[] v, double[] dOut, double cap, int window) {
        double[] out = attention(q, k, v, SEQ_START, POSITIONS, cap, window);
        double l = 0;
        for (int i = 0; i < out.length; i++) l += dOut[i] * out[i];
        return l;
    }

    /** {dq, dk, dv} of sum(dOut * out), by the chain rule through the soft cap, in float64. */
    static double[][] gradients(double[] q, double[] k, double[] v, double[] dOut, double cap, int window) {
        double[] gq = new double[q.length], gk = new double[k.length], gv = new double[v.length];
        for (int t = 0; t < ROWS; t++) {
            int pos = POSITIONS[t], r0 = SEQ_START[t], f = first(pos, window);
            for (int h = 0; h < HEADS; h++) {
                double[] p = probabilities(q, k, t, h, r0, pos, cap, window), dp = new double[pos + 1];
                int qo = t * Q_DIM + h * HD, ko = (h / GROUP) * HD;
                double pdp = 0;
                for (int j = f; j <= pos; j++) {
                    for (int d = 0; d < HD; d++) dp[j] += dOut[qo + d] * v[(r0 + j) * KV_DIM + ko + d];
                    pdp += p[j] * dp[j];
                }
                for (int j = f; j <= pos; j++) {
                    double c = score(q, t, h, k, r0 + j, cap);
                    double ds = p[j] * (dp[j] - pdp) * (cap > 0 ? 1 - (c / cap) * (c / cap) : 1) * SCALE;
                    for (int d = 0; d < HD; d++) {
                        int kv = (r0 + j) * KV_DIM + ko + d;
                        gq[qo + d] += ds * k[kv];
                        gk[kv] += ds * q[qo + d];
                        gv[kv] += p[j] * dOut[qo + d];
                    }
                }
            }
        }
        return new double[][]{gq, gk, gv};
    }

    @Test
    void attentionBackwardWithCapAndWindowMatchesFiniteDifferences() {
        int window = 3, stride = 7;
        float[] q = random(ROWS * Q_DIM), k = random(ROWS * KV_DIM), v = random(ROWS * KV_DIM), dOut = random(ROWS * Q_DIM);
        float[] dq0 = random(q.length), dk0 = random(k.length), dv0 = random(v.length);
        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v), od = toDouble(dOut);
        float cap = halfMaxScore(qd, kd, SEQ_START, POSITIONS, window);
        long dq = dev.upload(dq0), dk = dev.upload(dk0), dv = dev.upload(dv0), scratch = dev.alloc(4L * ROWS * HEADS * 2 * stride);
        dev.attentionBackward(dq, dk, dv, dev.upload(dOut), dev.upload(q), dev.upload(k), dev.upload(v), uploadInts(SEQ_START), uploadInts(POSITIONS),
                ROWS, HEADS, KV_HEADS, HD, SCALE, scratch, stride, cap, window);
        float[][] actual = {download(dq, q.length), download(dk, k.length), download(dv, v.length)};
        double[][] initial = {toDouble(dq0), toDouble(dk0), toDouble(dv0)}, inputs = {qd, kd, vd};
        double[][] g = gradients(qd, kd, vd, od, cap, window);
        String[] names = {"dq", "dk", "dv"};
        for (int a = 0; a < 3; a++) {
            double[] expected = new double[g[a].length];
            for (int i = 0; i < expected.length; i++) expected[i] = initial[a][i] + g[a][i];
            close(expected, actual[a], 2e-5, names[a] + " = initial + formula");
            for (int n = 0; n < 16; n++) { // 48 coordinates in all, by central differences of the float64 forward
                int i = rnd.nextInt(inputs[a].length);
                double keep = inputs[a][i], eps = 1e-5;
                inputs[a][i] = keep + eps;
                double lp = loss(qd, kd, vd, od, cap, window);
                inputs[a][i] = keep - eps;
                double lm = loss(qd, kd, vd, od, cap, window);
                inputs[a][i] = keep;
                double num = (lp - lm) / (2 * eps);
                assertEquals(num, g[a][i], 1e-7 * Math.max(1, Math.abs(num)), names[a] + " formula vs finite differences [" + i + "]");
                assertEquals(num, actual[a][i] - initial[a][i], 2e-5 * Math.max(1, Math.abs(num)), names[a] + " kernel vs finite differences [" + i + "]");
            }
        }
        // keys of the second sequence's first row lie outside the window of its last row, which alone would still see them without one
        double withoutWindow = gradients(qd, kd, vd, od, cap, 0)[1][7 * KV_DIM], withWindow = g[1][7 * KV_DIM];
        assertTrue(Math.abs(withoutWindow - withWindow) > 1e-3, "the window changes dk: " + withoutWindow + " vs " + withWindow);
    }

    // ---------------------------------------------------------------- GeGLU, scale, soft cap

    static double gelu(double g) {
        return 0.5 * g * (1 + Math.tanh(GELU_C * (g + 0.044715 * g * g * g)));
    }

    float[] wide(int n, double sigma) {
        float[] a = random(n);
        for (int i = 0; i < n; i++) a[i] *= (float) sigma;
        return a;
    }

    @Test
    void geluMulMatchesFloat64() {
        int n = 1001;
        float[] gate = wide(n, 3), up = random(n);
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = gelu(gate[i]) * up[i];
        long dg = dev.upload(gate);
        dev.geluMul(dg, dev.upload(up), n);
        close(expected, download(dg, n), 1e-5, "gelu_mul");
    }

    float[] downloadStored(long p, int n, int type) {
        if (type == 0) return download(p, n);
        short[] h = new short[n];
        dev.driver().copyToHost(MemorySegment.ofArray(h), p, 2L * n);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = type == 1 ? Float.float16ToFloat(h[i]) : Float.intBitsToFloat((h[i] & 0xFFFF) << 16);
        return f;
    }

    @Test
    void geluMulStoreMatchesFloat64InEachStoredType() {
        int rows = 3, ffn = 96;
        float[] gu = wide(rows * 2 * ffn, 2.5);
        double[] expected = new double[rows * ffn];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < ffn; c++) expected[r * ffn + c] = gelu(gu[r * 2 * ffn + c]) * gu[r * 2 * ffn + ffn + c];
        }
        long in = dev.upload(gu), out = dev.alloc(4L * rows * ffn);
        for (int type = 0; type <= 2; type++) {
            dev.geluMulStore(out, in, ffn, (long) rows * ffn, type);
            close(expected, downloadStored(out, rows * ffn, type), type == 0 ? 1e-5 : type == 1 ? 2e-3 : 1e-2, "gelu_mul_store type " + type);
        }
    }

    /** loss = sum(dout * gelu(gate) * up): its gradients by central differences against the kernel. */
    @Test
    void geluMulBackwardMatchesFiniteDifferences() {
        int n = 301;
        float[] gate = wide(n, 3), up = random(n), dout = random(n);
        long dgate = dev.alloc(4L * n), dup = dev.alloc(4L * n);
        dev.geluMulBackward(dgate, dup, dev.upload(dout), dev.upload(gate), dev.upload(up), n);
        float[] gg = download(dgate, n), gu = download(dup, n);
        double eps = 1e-5;
        double[] eg = new double[n], eu = new double[n];
        for (int i = 0; i < n; i++) {
            double g = gate[i], u = up[i], d = dout[i];
            eg[i] = d * u * (gelu(g + eps) - gelu(g - eps)) / (2 * eps);
            eu[i] = d * (gelu(g) * (u + eps) - gelu(g) * (u - eps)) / (2 * eps);
        }
        close(eg, gg, 1e-5, "dgate");
        close(eu, gu, 1e-5, "dup");
    }

    @Test
    void scaleMultipliesInPlace() {
        int n = 777;
        float[] y = random(n);
        float a = (float) Math.sqrt(2304);
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = (double) y[i] * a;
        long dy = dev.upload(y);
        dev.scale(dy, a, n);
        close(expected, download(dy, n), 1e-6, "scale");
    }

    /** softcap against cap * tanh(y / cap), then its backward against the finite-difference derivative of the same. */
    @Test
    void softcapAndItsBackwardMatchFloat64() {
        int n = 999;
        float cap = 30f;
        float[] x = wide(n, 50), dy = random(n);
        double[] expected = new double[n];
        for (int i = 0; i < n; i++) expected[i] = cap * Math.tanh(x[i] / (double) cap);
        long y = dev.upload(x);
        dev.softcap(y, cap, n);
        float[] capped = download(y, n);
        close(expected, capped, 1e-6, "softcap");
        double h = 1e-4;
        double[] grad = new double[n];
        for (int i = 0; i < n; i++) {
            double fp = cap * Math.tanh((x[i] + h) / cap), fm = cap * Math.tanh((x[i] - h) / cap);
            grad[i] = dy[i] * (fp - fm) / (2 * h);
        }
        long ddy = dev.upload(dy);
        dev.softcapBackward(ddy, y, cap, n);
        close(grad, download(ddy, n), 1e-5, "softcap_backward");
    }
}
