package dev.tiller.kernels.cuda;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The kernels steering-vector training adds (backward through activations with frozen weights): attention_backward,
 * widen_f32, slices, column_sums, and rmsnorm_backward's accumulation into dx. Each is checked against a float64
 * computation written here from the math (never through the emulator's reference kernels); attention's gradients also
 * against central differences of a float64 forward. Skipped where there is no CUDA device.
 */
class CudaTrainingKernelsTest extends DeviceTest {

    CudaTrainingKernelsTest() {
        super(20250611);
    }

    long uploadLongs(long[] a) {
        long p = dev.alloc(8L * a.length);
        dev.copyToDevice(p, a, a.length);
        return p;
    }

    // ------------------------------------------------------------------ attention_backward

    /** Two packed sequences of 5 and 3 rows, GQA with 4 heads over 2 kv heads of 8 dims. */
    static final int HEADS = 4, KV_HEADS = 2, HD = 8, ROWS = 8, Q_DIM = HEADS * HD, KV_DIM = KV_HEADS * HD;
    static final int[] SEQ_START = {0, 0, 0, 0, 0, 5, 5, 5}, POSITIONS = {0, 1, 2, 3, 4, 0, 1, 2};
    static final double SCALE = 0.4;

    /** out[t][h] = sum_j softmax_j(scale q_t.k_j) v_j over rows seqStart[t] + j, j <= positions[t], kv head h / group. */
    static double[] attentionForward(double[] q, double[] k, double[] v) {
        double[] out = new double[ROWS * Q_DIM];
        for (int t = 0; t < ROWS; t++) {
            for (int h = 0; h < HEADS; h++) {
                int kvh = h / (HEADS / KV_HEADS), n = POSITIONS[t] + 1;
                double[] p = scores(q, k, t, h, kvh, n);
                for (int d = 0; d < HD; d++) {
                    double a = 0;
                    for (int j = 0; j < n; j++) a += p[j] * v[(SEQ_START[t] + j) * KV_DIM + kvh * HD + d];
                    out[t * Q_DIM + h * HD + d] = a;
                }
            }
        }
        return out;
    }

    /** softmax_j(scale q_t.k_j) for j < n over row t's sequence. */
    static double[] scores(double[] q, double[] k, int t, int h, int kvh, int n) {
        double[] p = new double[n];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int d = 0; d < HD; d++) s += q[t * Q_DIM + h * HD + d] * k[(SEQ_START[t] + j) * KV_DIM + kvh * HD + d];
            p[j] = SCALE * s;
            max = Math.max(max, p[j]);
        }
        for (int j = 0; j < n; j++) sum += p[j] = Math.exp(p[j] - max);
        for (int j = 0; j < n; j++) p[j] /= sum;
        return p;
    }

    static double loss(double[] q, double[] k, double[] v, double[] dOut) {
        double[] out = attentionForward(q, k, v);
        double l = 0;
        for (int i = 0; i < out.length; i++) l += dOut[i] * out[i];
        return l;
    }

    /** The gradients of loss = sum dOut . out by the backward formulas, in double: {dq, dk, dv}. */
    static double[][] attentionGradients(double[] q, double[] k, double[] v, double[] dOut) {
        double[] gq = new double[q.length], gk = new double[k.length], gv = new double[v.length];
        for (int t = 0; t < ROWS; t++) {
            for (int h = 0; h < HEADS; h++) {
                int kvh = h / (HEADS / KV_HEADS), n = POSITIONS[t] + 1;
                double[] p = scores(q, k, t, h, kvh, n), dp = new double[n];
                double c = 0;
                for (int j = 0; j < n; j++) {
                    for (int d = 0; d < HD; d++) dp[j] += dOut[t * Q_DIM + h * HD + d] * v[(SEQ_START[t] + j) * KV_DIM + kvh * HD + d];
                    c += p[j] * dp[j];
                }
                for (int j = 0; j < n; j++) {
                    double ds = p[j] * (dp[j] - c) * SCALE;
                    int kv = (SEQ_START[t] + j) * KV_DIM + kvh * HD, qo = t * Q_DIM + h * HD;
                    for (int d = 0; d < HD; d++) {
                        gq[qo + d] += ds * k[kv + d];
                        gk[kv + d] += ds * q[qo + d];
                        gv[kv + d] += p[j] * dOut[qo + d];
                    }
                }
            }
        }
        return new double[][]{gq, gk, gv};
    }

    /**
     * The kernel adds the gradients to non-zero dq, dk, dv: the sums equal the initial values plus the float64
     * backward formulas, and the gradients (sum minus initial value) equal central differences of the float64 forward
     * for every coordinate of q, k and v, which also proves that no gradient crosses from one packed sequence to the
     * other. The scratch stride is exactly the longest sequence.
     */
    @Test
    void attentionBackwardAddsTheGradientsOfPackedGqaAttention() {
        float[] q = random(ROWS * Q_DIM), k = random(ROWS * KV_DIM), v = random(ROWS * KV_DIM), dOut = random(ROWS * Q_DIM);
        float[] dq0 = random(q.length), dk0 = random(k.length), dv0 = random(v.length);
        int stride = 5;
        long dq = dev.upload(dq0), dk = dev.upload(dk0), dv = dev.upload(dv0), scratch = dev.alloc(4L * ROWS * HEADS * 2 * stride);
        dev.attentionBackward(dq, dk, dv, dev.upload(dOut), dev.upload(q), dev.upload(k), dev.upload(v), uploadInts(SEQ_START), uploadInts(POSITIONS),
                ROWS, HEADS, KV_HEADS, HD, (float) SCALE, scratch, stride);
        float[] gq = download(dq, q.length), gk = download(dk, k.length), gv = download(dv, v.length);

        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v), od = toDouble(dOut);
        double[][] g = attentionGradients(qd, kd, vd, od);
        double[][] initial = {toDouble(dq0), toDouble(dk0), toDouble(dv0)};
        float[][] actual = {gq, gk, gv};
        double[][] inputs = {qd, kd, vd};
        String[] names = {"dq", "dk", "dv"};
        for (int a = 0; a < 3; a++) {
            double[] expected = new double[g[a].length];
            for (int i = 0; i < expected.length; i++) expected[i] = initial[a][i] + g[a][i];
            close(expected, actual[a], 1e-5, names[a] + " = initial + formula");
            // every coordinate, by central differences of the float64 forward
            double eps = 1e-5;
            for (int i = 0; i < inputs[a].length; i++) {
                double keep = inputs[a][i];
                inputs[a][i] = keep + eps;
                double lp = loss(qd, kd, vd, od);
                inputs[a][i] = keep - eps;
                double lm = loss(qd, kd, vd, od);
                inputs[a][i] = keep;
                double num = (lp - lm) / (2 * eps);
                assertEquals(num, g[a][i], 1e-7 * Math.max(1, Math.abs(num)), names[a] + " formula vs finite differences [" + i + "]");
                assertEquals(num, actual[a][i] - initial[a][i], 1e-5 * Math.max(1, Math.abs(num)), names[a] + " kernel vs finite differences [" + i + "]");
            }
        }
        // the rows of the second sequence's keys get gradient only from that sequence: non-trivially non-zero
        double norm = 0;
        for (int i = 5 * KV_DIM; i < 8 * KV_DIM; i++) norm += Math.abs(g[1][i]);
        assertEquals(true, norm > 1e-3, "the second sequence's dk is not zero");
    }

    // ------------------------------------------------------------------ widen_f32

    static GGMLType stored(DeviceFormat f) {
        return GGMLType.valueOf(f.name());
    }

    /**
     * A matrix quantized (or converted) by the project's quantizer, uploaded in its device format (Q8_0 / Q4_0 / Q6_K
     * repacked, Q4_K as stored), widened to float32: exactly the host's dequantization of the same bytes, for the whole matrix and for
     * a view of rows 2..4.
     */
    @ParameterizedTest
    @EnumSource(DeviceFormat.class)
    void widenToFloatEqualsTheHostDequantization(DeviceFormat f) {
        int rows = 6, cols = f.blockWeights() == 256 ? 512 : 96, n = rows * cols;
        float[] x = random(n);
        for (int i = 0; i < n; i++) x[i] *= 0.1f;
        byte[] raw = Quantizer.quantize(stored(f), x);
        float[] host = new float[n];
        QuantFormat.of(stored(f), "test").dequantize(MemorySegment.ofArray(raw), 0, host, 0, n);

        long ptr = dev.alloc(f.bytes(rows, cols)), scales = f.hasScales() ? ptr + rows * f.rowBytes(cols) : 0;
        if (f.hasScales()) {
            long tmp = dev.alloc(raw.length);
            dev.driver().copyToDevice(tmp, MemorySegment.ofArray(raw), raw.length);
            dev.repack(f, ptr, scales, tmp, n / f.blockWeights());
            dev.free(tmp);
        } else { // the float formats, and Q4_K's blocks as stored
            dev.driver().copyToDevice(ptr, MemorySegment.ofArray(raw), raw.length);
        }
        long out = dev.alloc(4L * n);
        dev.widenToFloat(f, out, ptr, scales, n);
        float[] all = download(out, n);
        for (int i = 0; i < n; i++) assertEquals(host[i], all[i], 0, f + " element " + i);

        int r0 = 2, count = 3;
        long view = dev.alloc(4L * count * cols);
        dev.widenToFloat(f, view, ptr + r0 * f.rowBytes(cols), scales == 0 ? 0 : scales + r0 * f.scaleBytes(cols), (long) count * cols);
        float[] part = download(view, count * cols);
        for (int i = 0; i < count * cols; i++) assertEquals(host[r0 * cols + i], part[i], 0, f + " view of rows 2..4, element " + i);
    }

    // ------------------------------------------------------------------ slices

    /** Copies, then adds, three slices of 300 floats (more than a block's threads) at scattered offsets. */
    @Test
    void slicesCopyAndAccumulate() {
        int width = 300, count = 3;
        float[] src = random(1000), dst0 = random(1500);
        long[] srcOff = {650, 0, 317}, dstOff = {1100, 20, 600};
        long s = dev.upload(src), so = uploadLongs(srcOff), doff = uploadLongs(dstOff);
        for (boolean accumulate : new boolean[]{false, true}) {
            long d = dev.upload(dst0);
            dev.slices(d, doff, s, so, count, width, accumulate);
            double[] expected = toDouble(dst0);
            for (int b = 0; b < count; b++) {
                for (int i = 0; i < width; i++) {
                    int at = (int) dstOff[b] + i;
                    expected[at] = (accumulate ? dst0[at] : 0.0) + src[(int) srcOff[b] + i];
                }
            }
            close(expected, download(d, dst0.length), 1e-6, accumulate ? "slices accumulate" : "slices copy");
        }
    }

    // ------------------------------------------------------------------ column_sums

    /** 5000 rows (ten row chunks, the last partial) of 70 columns (a partial column tile), added to non-zero sums. */
    @Test
    void columnSumsAddEachColumnsTotal() {
        int rows = 5000, width = 70;
        float[] y = random(rows * width), out0 = random(width);
        long out = dev.upload(out0);
        dev.addColumnSums(out, dev.upload(y), rows, width);
        float[] actual = download(out, width);
        for (int c = 0; c < width; c++) {
            double exact = out0[c], mag = Math.abs(out0[c]);
            for (int r = 0; r < rows; r++) {
                exact += y[r * width + c];
                mag += Math.abs(y[r * width + c]);
            }
            assertEquals(exact, actual[c], 2e-6 * mag + 1e-6, "column " + c);
        }
    }

    // ------------------------------------------------------------------ rmsnorm_backward

    /** dx and dw both accumulate: initial values plus the float64 gradients of y = rmsnorm(x) * w. */
    @Test
    void rmsnormBackwardAddsIntoDx() {
        int rows = 3, width = 300;
        float eps = 1e-5f;
        float[] x = random(rows * width), w = random(width), dy = random(rows * width), dx0 = random(rows * width), dw0 = random(width);
        long dx = dev.upload(dx0), dw = dev.upload(dw0);
        dev.rmsnormBackward(dx, dw, dev.upload(dy), dev.upload(x), dev.upload(w), rows, width, eps);
        double[] ex = toDouble(dx0), ew = toDouble(dw0);
        for (int r = 0; r < rows; r++) {
            double ss = 0, dot = 0;
            for (int i = 0; i < width; i++) {
                double xi = x[r * width + i];
                ss += xi * xi;
                dot += (double) dy[r * width + i] * w[i] * xi;
            }
            double rs = 1 / Math.sqrt(ss / width + eps);
            for (int i = 0; i < width; i++) {
                double xi = x[r * width + i], g = dy[r * width + i];
                ex[r * width + i] += rs * g * w[i] - xi * rs * rs * rs / width * dot;
                ew[i] += g * xi * rs;
            }
        }
        close(ex, download(dx, rows * width), 1e-5, "dx = initial + gradient");
        close(ew, download(dw, width), 1e-5, "dw = initial + gradient");
    }
}
