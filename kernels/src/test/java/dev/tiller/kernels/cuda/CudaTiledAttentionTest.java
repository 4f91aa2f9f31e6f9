package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * attention_tiled (prefill of one sequence, 16 rows per block) against a float64 softmax computed here and against the
 * one-row-per-block `attention`: rows not a multiple of the tile, head dims under, between and at multiples of 32 (16,
 * 80, 96, 128) and 256 (tiles of 16 keys), a context already in the cache, soft cap and sliding window, positions in any
 * order or with gaps. Cache positions that no row sees hold NaN: a kernel that let one into a sum (a masked key's value
 * times a zero weight is still NaN) fails. Under the emulator the kernel is the Java reference; on a GPU (gpu-check)
 * this is the check of the CUDA code.
 */
class CudaTiledAttentionTest extends DeviceTest {

    CudaTiledAttentionTest() {
        super(1600);
    }

    /** order: 0 consecutive positions start.., 1 the same shuffled, 2 start + 3t (with a window of 2: unwritten gaps). */
    record Case(int heads, int kvHeads, int hd, int rows, int start, float cap, int window, int order) {
        int first(int pos) {
            return window > 0 ? Math.max(0, pos - window + 1) : 0;
        }
    }

    static final Case[] CASES = {
            new Case(4, 2, 64, 37, 0, 0f, 0, 0),     // GQA, a tail tile of 5 rows
            new Case(14, 2, 64, 50, 3, 0f, 0, 0),    // Qwen2.5-0.5B's heads: 7 per kv head
            new Case(4, 2, 80, 53, 20, 0f, 0, 0),    // 80 dims: the lanes' third slice half used; 20 positions cached before
            new Case(2, 1, 64, 40, 10, 1f, 7, 1),    // cap and window, rows in shuffled order
            new Case(3, 3, 16, 33, 0, 0.5f, 4, 0),   // head dim under a warp (tiny-llama's 16)
            new Case(2, 1, 96, 30, 0, 0f, 2, 2),     // windows of 2 three positions apart: the positions between are NaN
            new Case(2, 2, 128, 17, 100, 0f, 0, 1),  // a deep context, a tail of 1
            new Case(2, 1, 256, 21, 5, 1.5f, 9, 0),  // 256 dims: 16-key tiles
    };

    @Test
    void tiledAttentionMatchesAFloat64SoftmaxAndTheRowKernel() {
        for (Case c : CASES) {
            int kvDim = c.kvHeads() * c.hd(), qDim = c.heads() * c.hd();
            int[] pos = new int[c.rows()];
            for (int t = 0; t < pos.length; t++) pos[t] = c.order() == 2 ? c.start() + 3 * t : c.start() + t;
            if (c.order() == 1) shuffle(pos);
            int ctx = Arrays.stream(pos).max().orElseThrow() + 1;
            boolean[] seen = new boolean[ctx];
            for (int p : pos) for (int j = c.first(p); j <= p; j++) seen[j] = true;
            float[] keys = random(ctx * kvDim), values = random(ctx * kvDim), q = random(c.rows() * qDim);
            for (int j = 0; j < ctx; j++) {
                if (!seen[j]) {
                    Arrays.fill(keys, j * kvDim, (j + 1) * kvDim, Float.NaN);
                    Arrays.fill(values, j * kvDim, (j + 1) * kvDim, Float.NaN);
                }
            }
            float scale = (float) (1 / Math.sqrt(c.hd()));
            double[] expected = attention(q, keys, values, pos, c, scale);
            long dk = dev.upload(keys), dv = dev.upload(values), dq = dev.upload(q), dp = uploadInts(pos);
            long bk = bases(dk, c.rows()), bv = bases(dv, c.rows());
            float[] nan = new float[c.rows() * qDim];
            Arrays.fill(nan, Float.NaN);
            long tiled = dev.upload(nan), rowwise = dev.upload(nan); // every output element must be written
            dev.attentionTiled(tiled, dq, bk, bv, dp, c.rows(), c.heads(), c.kvHeads(), c.hd(), scale, c.cap(), c.window());
            dev.attention(rowwise, dq, bk, bv, dp, c.rows(), c.heads(), c.kvHeads(), c.hd(), scale, c.cap(), c.window());
            float[] got = download(tiled, nan.length);
            close(expected, got, 1e-5, "tiled " + c);
            close(toDouble(download(rowwise, nan.length)), got, 1e-5, "tiled vs attention " + c);
        }
    }

    /** The emulator holds the caller to the precondition: rows of two sequences are refused, not silently misread. */
    @Test
    void theEmulatorRefusesRowsOfTwoSequences() {
        assumeTrue(CudaLibraries.emulatorSelected(), "the check is the emulator's");
        int rows = 20, hd = 64;
        long a = dev.upload(random(rows * hd)), b = dev.upload(random(rows * hd)), q = dev.upload(random(rows * hd));
        long[] ptrs = new long[rows];
        Arrays.fill(ptrs, a);
        ptrs[17] = b;
        long bk = dev.alloc(8L * rows);
        dev.copyToDevice(bk, ptrs, rows);
        int[] pos = new int[rows];
        for (int t = 0; t < rows; t++) pos[t] = t;
        var e = assertThrows(CudaException.class,
                () -> dev.attentionTiled(dev.alloc(4L * rows * hd), q, bk, bk, uploadInts(pos), rows, 1, 1, hd, 0.125f, 0f, 0));
        assertTrue(e.getMessage().contains("row 17 reads another sequence's cache"), e.getMessage());
    }

    /** out[t][h] = sum_j p_j v_j over j = first..pos[t], p = softmax of the (capped) scores, in float64. */
    static double[] attention(float[] q, float[] k, float[] v, int[] pos, Case c, float scale) {
        int hd = c.hd(), kvDim = c.kvHeads() * hd, group = c.heads() / c.kvHeads();
        double[] out = new double[pos.length * c.heads() * hd];
        for (int t = 0; t < pos.length; t++) {
            for (int h = 0; h < c.heads(); h++) {
                int f = c.first(pos[t]), qh = (t * c.heads() + h) * hd, kv = (h / group) * hd;
                double[] p = new double[pos[t] + 1];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = f; j <= pos[t]; j++) {
                    double s = 0;
                    for (int d = 0; d < hd; d++) s += (double) q[qh + d] * k[j * kvDim + kv + d];
                    s *= scale;
                    p[j] = c.cap() > 0 ? c.cap() * Math.tanh(s / c.cap()) : s;
                    max = Math.max(max, p[j]);
                }
                for (int j = f; j <= pos[t]; j++) sum += p[j] = Math.exp(p[j] - max);
                for (int j = f; j <= pos[t]; j++) {
                    for (int d = 0; d < hd; d++) out[qh + d] += p[j] / sum * v[j * kvDim + kv + d];
                }
            }
        }
        return out;
    }

    long bases(long p, int rows) {
        long b = dev.alloc(8L * rows);
        long[] a = new long[rows];
        Arrays.fill(a, p);
        dev.copyToDevice(b, a, rows);
        return b;
    }

    void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1), x = a[i];
            a[i] = a[j];
            a[j] = x;
        }
    }
}
