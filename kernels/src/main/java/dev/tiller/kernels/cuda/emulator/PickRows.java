package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * The Java reference of {@code pick_rows} (tiller_kernels.cu): per row, with invTemp &gt; 0 the argmax of
 * z · invTemp + g(key, c) (Gumbel noise from the row's key, computed as the kernel does: SplitMix64, 23 bits, each log
 * in double rounded to float, product and sum rounded separately), else the plain argmax; the lowest index among equal
 * values, NaNs never chosen, 0 when nothing was chosen, and in argmax mode 0 when index 0 holds a NaN (argmax_rows'
 * rule). A scan in index order: the kernel's strided scan and tree merge keep the lowest index of the best value,
 * which is what a forward scan with a strict comparison gives.
 */
final class PickRows {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    static void run(ReferenceKernels.Launch l) {
        MemorySegment out = l.p(0), logits = l.p(1), invTemp = l.p(3), keys = l.p(4);
        int cols = l.i(2);
        if (l.blockX() % 32 != 0 || l.gridY() != 1 || l.gridZ() != 1) {
            throw new IllegalArgumentException("pick_rows: block " + l.blockX() + ", grid y/z " + l.gridY() + "/" + l.gridZ());
        }
        IntStream.range(0, l.gridX()).parallel().forEach(r -> out.setAtIndex(I32, r,
                row(logits, (long) r * cols, cols, invTemp.getAtIndex(F32, r), keys.getAtIndex(U64, r))));
    }

    private static int row(MemorySegment logits, long base, int cols, float it, long key) {
        boolean draw = it > 0f;
        int best = -1;
        float bestValue = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < cols; c++) {
            float z = logits.getAtIndex(F32, base + c);
            float v = draw ? z * it + noise(key, c) : z;
            if (v > bestValue || (best < 0 && v == bestValue)) {   // -inf takes the empty slot, as (v == bv and c < none)
                bestValue = v;
                best = c;
            }
        }
        if (best < 0) return 0;
        if (!draw && Float.isNaN(logits.getAtIndex(F32, base))) return 0;
        return best;
    }

    static long splitmix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static float noise(long key, int c) {
        long h = splitmix64(key + (c + 1L) * 0x9E3779B97F4A7C15L);
        float u = ((h >>> 41) + 0.5f) * 0x1p-23f;
        float a = (float) Math.log(u);
        return -(float) Math.log(-a);
    }

    private PickRows() {}
}
