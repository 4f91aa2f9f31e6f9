package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * The Java reference of {@code argmax_rows} (tiller_kernels.cu): per row, the index of the largest logit, the lowest
 * index among equal values, NaNs never chosen, and 0 when index 0 holds a NaN (or every entry does) — the host
 * {@code Sampler.argmax}'s answer. It reproduces the kernel's order of work, not just its result: each thread's strided
 * scan, the xor-shuffle tree inside each warp, then the same tree over the warps' results, so the merge rule (which is
 * what makes ties and NaNs come out as on the host) is what the tests exercise.
 */
final class ArgmaxRows {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final int WARP = 32, NONE = Integer.MAX_VALUE;

    static void run(ReferenceKernels.Launch l) {
        MemorySegment out = l.p(0), logits = l.p(1);
        int cols = l.i(2), threads = l.blockX();
        if (threads % WARP != 0 || l.gridY() != 1 || l.gridZ() != 1) {
            throw new IllegalArgumentException("argmax_rows: block " + threads + ", grid y/z " + l.gridY() + "/" + l.gridZ());
        }
        IntStream.range(0, l.gridX()).parallel().forEach(r -> out.setAtIndex(I32, r, row(logits, (long) r * cols, cols, threads)));
    }

    private static int row(MemorySegment logits, long base, int cols, int threads) {
        float[] bv = new float[threads];
        int[] bi = new int[threads];
        for (int t = 0; t < threads; t++) {
            bv[t] = Float.NEGATIVE_INFINITY;
            bi[t] = NONE;
            for (int c = t; c < cols; c += threads) {
                float v = logits.getAtIndex(F32, base + c);
                if (better(v, c, bv[t], bi[t])) {
                    bv[t] = v;
                    bi[t] = c;
                }
            }
        }
        int warps = threads / WARP;
        float[] wv = new float[WARP];
        int[] wi = new int[WARP];
        java.util.Arrays.fill(wv, Float.NEGATIVE_INFINITY);
        java.util.Arrays.fill(wi, NONE);
        for (int w = 0; w < warps; w++) {
            warpReduce(bv, bi, w * WARP);
            wv[w] = bv[w * WARP];
            wi[w] = bi[w * WARP];
        }
        warpReduce(wv, wi, 0);
        int best = wi[0];
        return best == NONE || Float.isNaN(logits.getAtIndex(F32, base)) ? 0 : best;
    }

    /** The kernel's {@code argmax_warp}: every lane takes its xor partner's pair when it is better, offsets 16 .. 1. */
    private static void warpReduce(float[] v, int[] i, int from) {
        for (int o = WARP / 2; o > 0; o >>= 1) {
            float[] nv = new float[WARP];
            int[] ni = new int[WARP];
            for (int lane = 0; lane < WARP; lane++) {
                int a = from + lane, b = from + (lane ^ o);
                boolean take = better(v[b], i[b], v[a], i[a]);
                nv[lane] = take ? v[b] : v[a];
                ni[lane] = take ? i[b] : i[a];
            }
            System.arraycopy(nv, 0, v, from, WARP);
            System.arraycopy(ni, 0, i, from, WARP);
        }
    }

    /** Larger, or equal and earlier; false for a NaN {@code v} (every comparison with NaN is false, as in CUDA). */
    private static boolean better(float v, int i, float bv, int bi) {
        return v > bv || (v == bv && i < bi);
    }

    private ArgmaxRows() {}
}
