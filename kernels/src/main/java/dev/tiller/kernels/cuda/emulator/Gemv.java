package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The reference of the {@code gemv_f16 / gemv_bf16 / gemv_q8_0 / gemv_q4_0 / gemv_q4_k / gemv_q5_k / gemv_q6_k} kernels: {@code y[t][r] = x[t] . W[r]}
 * for n activation rows, W read in its device format. It follows the kernel's summation: row r belongs to
 * {@code split} warps; their {@code split * 32} lanes take the row's 16-byte loads round-robin within each staged tile
 * of x; each lane sums each group of 8 products left to right into its partial (a quantized load's groups first into
 * the load's sum, then times the block scale); each warp's 32 partials are combined by the kernel's xor-shuffle tree,
 * and the warps' shares added in order. It also checks what a GPU would fault on or silently get wrong: the launch
 * shape, the dynamic shared memory, and 16-byte alignment of every vector load.
 */
final class Gemv {
    static final int WARPS = 4, MAX_N = 8, SMEM_FLOATS = 8192, LANES = 32;
    static final int F16 = 0, BF16 = 1, Q8_0 = 2, Q4_0 = 3, Q4_K = 4, Q6_K = 5, Q5_K = 6, Q5_0 = 7, Q4_1 = 8, Q5_1 = 9;
    private static final int[] VEC = {8, 8, 16, 32, 32, 64, 32, 32, 32, 32};
    private static final String[] NAME = {"gemv_f16", "gemv_bf16", "gemv_q8_0", "gemv_q4_0", "gemv_q4_k", "gemv_q6_k", "gemv_q5_k", "gemv_q5_0",
            "gemv_q4_1", "gemv_q5_1"};
    private static final ValueLayout.OfShort H = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    static void run(ReferenceKernels.Launch l, int format) {
        MemorySegment y = l.p(0), w = l.p(1), x = l.p(3);
        MemorySegment scales = format == Q4_K || format == Q5_K || format <= BF16 ? null : l.p(2);
        int rows = l.i(4), cols = l.i(5), n = l.i(6), split = l.i(7), vec = VEC[format];
        String k = NAME[format];
        require(split == 1 || split == 2 || split == 4, k + ": split " + split);
        require(n >= 1 && n <= MAX_N, k + ": n = " + n);
        int perBlock = WARPS / split, tile = Math.min((SMEM_FLOATS / n) & ~1023, (cols + 1023) & ~1023);
        require(l.blockX() == WARPS * LANES && l.gridY() == 1 && l.gridZ() == 1, k + ": block " + l.blockX() + ", grid y/z " + l.gridY() + "/" + l.gridZ());
        require(l.gridX() == (rows + perBlock - 1) / perBlock, k + ": gridDim.x " + l.gridX() + " for " + rows + " rows, split " + split);
        require(l.sharedBytes() >= n * tile * Float.BYTES, k + ": " + l.sharedBytes() + " bytes of shared memory for n = " + n + ", tile " + tile);
        require(cols % vec == 0, k + ": cols " + cols + " not a multiple of " + vec);
        require(format < Q4_K || format >= Q5_0 || cols % 256 == 0, k + ": cols " + cols + " not whole 256-weight super-blocks");
        // Q5_0 / Q4_1 / Q5_1 blocks are read as 4-byte words; every other format's loads are 16 bytes wide
        require(w.address() % (format >= Q5_0 ? 4 : 16) == 0 && x.address() % 16 == 0, k + ": weights or x misaligned (a misaligned vector load)");
        IntStream.range(0, rows).parallel().forEach(r -> {
            float[][] partial = new float[n][split * LANES]; // lane p*32 + l: lane l of the row's warp p
            for (int c0 = 0; c0 < cols; c0 += tile) {
                int width = Math.min(tile, cols - c0);
                for (int lane = 0; lane < split * LANES; lane++) {
                    for (int c = lane * vec; c < width; c += split * LANES * vec) {
                        for (int t = 0; t < n; t++) partial[t][lane] += load(w, scales, format, r, cols, c0 + c, x, (long) t * cols);
                    }
                }
            }
            for (int t = 0; t < n; t++) {
                float sum = 0;
                for (int p = 0; p < split; p++) sum += warpSum(java.util.Arrays.copyOfRange(partial[t], p * LANES, (p + 1) * LANES));
                f(y, (long) t * rows + r, sum);
            }
        });
    }

    /** One lane's contribution of one 16-byte load at column {@code col} of row r against x row at {@code xRow}. */
    private static float load(MemorySegment w, MemorySegment scales, int format, int r, int cols, int col, MemorySegment x, long xRow) {
        switch (format) {
            case F16, BF16 -> {
                float[] wf = new float[8];
                for (int j = 0; j < 8; j++) {
                    short h = w.getAtIndex(H, (long) r * cols + col + j);
                    wf[j] = format == F16 ? Float.float16ToFloat(h) : ReferenceKernels.bf16(h);
                }
                return group(wf, 0, x, xRow + col);
            }
            case Q8_0 -> {
                float[] q = new float[16];
                for (int j = 0; j < 16; j++) q[j] = w.get(JAVA_BYTE, (long) r * cols + col + j);
                float d = Float.float16ToFloat(scales.getAtIndex(H, (long) r * (cols / 32) + col / 32));
                float s = 0;
                s += group(q, 0, x, xRow + col);
                s += group(q, 8, x, xRow + col + 8);
                return d * s;
            }
            case Q5_0 -> {
                long first = ((long) r * (cols / 32) + col / 32) * 32; // the block's weight 0 in the repacked quants
                float[] lo = new float[16], hi = new float[16];
                for (int j = 0; j < 16; j++) {
                    lo[j] = ReferenceKernels.q5_0Quant(w, first + j);
                    hi[j] = ReferenceKernels.q5_0Quant(w, first + 16 + j);
                }
                float d = Float.float16ToFloat(scales.getAtIndex(H, (long) r * (cols / 32) + col / 32));
                float s = halves(lo, hi, x, xRow + col, 16);
                return d * s;
            }
            case Q4_1, Q5_1 -> {
                // the block's weights as ReferenceKernels.q4_1 / q5_1 compute them, in 8-weight groups into one sum
                long first = ((long) r * (cols / 32) + col / 32) * 32;
                float[] lo = new float[16], hi = new float[16];
                for (int j = 0; j < 16; j++) {
                    lo[j] = format == Q4_1 ? ReferenceKernels.q4_1(w, scales, first + j) : ReferenceKernels.q5_1(w, scales, first + j);
                    hi[j] = format == Q4_1 ? ReferenceKernels.q4_1(w, scales, first + 16 + j) : ReferenceKernels.q5_1(w, scales, first + 16 + j);
                }
                float s = halves(lo, hi, x, xRow + col, 16);
                return s;
            }
            case Q4_K, Q5_K -> {
                // load k of super-block b: nibble bytes 16k..16k+15, low nibbles at block positions 64g + 16(k%2) + i
                // (sub-block 2g), high ones 32 further (sub-block 2g+1); weights as ReferenceKernels.q4_k / q5_k
                // compute them
                long b = (long) r * (cols / 256) + col / 256;
                int k = (col % 256) / 32, g = k / 2, first = 64 * g + 16 * (k % 2);
                float[] lo = new float[16], hi = new float[16];
                for (int j = 0; j < 16; j++) {
                    long i = b * 256 + first + j;
                    lo[j] = format == Q4_K ? ReferenceKernels.q4_k(w, i) : ReferenceKernels.q5_k(w, i);
                    hi[j] = format == Q4_K ? ReferenceKernels.q4_k(w, i + 32) : ReferenceKernels.q5_k(w, i + 32);
                }
                long at = xRow + col - col % 256 + first;
                float s = halves(lo, hi, x, at, 32);
                return s;
            }
            case Q6_K -> {
                // load k of super-block b: half h = k/2, positions l0 = 16(k%2) .. +15 of it, for u = 0..3 the sixteen
                // weights 128h + 32u + l0 + i (one scale each), as ReferenceKernels.q6_k computes them
                long b = (long) r * (cols / 256) + col / 256;
                int k = (col % 256) / 64, first = 128 * (k / 2) + 16 * (k % 2);
                long at = xRow + col - col % 256 + first;
                float s = 0;
                for (int u = 0; u < 4; u++) {
                    float[] wu = new float[16];
                    for (int j = 0; j < 16; j++) wu[j] = ReferenceKernels.q6_k(w, scales, b * 256 + first + 32 * u + j);
                    s += group(wu, 0, x, at + 32 * u);
                    s += group(wu, 8, x, at + 32 * u + 8);
                }
                return s;
            }
            default -> {
                float[] lo = new float[16], hi = new float[16];
                for (int j = 0; j < 16; j++) {
                    int b = w.get(JAVA_BYTE, (long) r * (cols / 2) + col / 2 + j) & 0xFF;
                    lo[j] = (b & 0x0F) - 8;
                    hi[j] = (b >> 4) - 8;
                }
                float d = Float.float16ToFloat(scales.getAtIndex(H, (long) r * (cols / 32) + col / 32));
                float s = halves(lo, hi, x, xRow + col, 16);
                return d * s;
            }
        }
    }

    /**
     * A load's two runs of 16 weights, lo against x[at ..] and hi against x[at + hiAt ..], as the kernels sum them: four
     * 8-weight groups (dot8), added in order into one sum.
     */
    private static float halves(float[] lo, float[] hi, MemorySegment x, long at, int hiAt) {
        float s = 0;
        s += group(lo, 0, x, at);
        s += group(lo, 8, x, at + 8);
        s += group(hi, 0, x, at + hiAt);
        s += group(hi, 8, x, at + hiAt + 8);
        return s;
    }

    /** w[from..from+7] . x[at..at+7], summed left to right (the kernel's dot8). */
    private static float group(float[] w, int from, MemorySegment x, long at) {
        float s = w[from] * f(x, at);
        for (int j = 1; j < 8; j++) s += w[from + j] * f(x, at + j);
        return s;
    }

    /** warp_sum: v[i] += v[i ^ o] for o = 16, 8, 4, 2, 1; every lane ends with lane 0's value. */
    static float warpSum(float[] lanes) {
        float[] v = lanes.clone();
        for (int o = LANES / 2; o > 0; o >>= 1) {
            float[] next = new float[LANES];
            for (int i = 0; i < LANES; i++) next[i] = v[i] + v[i ^ o];
            v = next;
        }
        return v[0];
    }

    private static float f(MemorySegment s, long i) {
        return s.getAtIndex(F, i);
    }

    private static void f(MemorySegment s, long i, float v) {
        s.setAtIndex(F, i, v);
    }

    private static void require(boolean ok, String why) {
        if (!ok) throw new IllegalArgumentException(why);
    }

    private Gemv() {}
}
