package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.stream.IntStream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A Java reference of every kernel in {@code tiller_kernels.cu}, which the emulator's {@code cuLaunchKernel} runs by
 * kernel name. Each one computes what its CUDA counterpart computes, with the same argument list (read from the
 * launch's {@code void** kernelParams} by the signature string: {@code p} device pointer, {@code l} long, {@code i}
 * int, {@code f} float), the same use of the grid (kernels that take one block per row get their row count from
 * {@code gridDim}), and the same rounding where it is chosen on purpose (f16 / bf16 conversions round to nearest even;
 * {@code add_row_vector} multiplies then adds without a fused multiply-add). Summation order inside a reduction is
 * the natural sequential one, so results agree with the GPU to float rounding, not bit for bit.
 *
 * <p>A reader checks each method against the kernel of the same name in the .cu file.
 */
final class ReferenceKernels {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    /** One launch: its grid and its arguments, with pointers resolved to bounds-checked device memory. */
    record Launch(int gridX, int gridY, int gridZ, int blockX, int sharedBytes, Object[] args, DeviceMemory mem) {
        MemorySegment p(int i) {
            return mem.from((Long) args[i]);
        }

        MemorySegment pOrNull(int i) {
            return mem.fromOrNull((Long) args[i]);
        }

        long l(int i) {
            return (Long) args[i];
        }

        int i(int i) {
            return (Integer) args[i];
        }

        float f(int i) {
            return (Float) args[i];
        }
    }

    interface Body {
        void run(Launch l);
    }

    /** A kernel's parameter signature and its Java body. */
    record Kernel(String signature, Body body) {}

    static final Map<String, Kernel> KERNELS = Map.ofEntries(
            Map.entry("f32_to_f16", new Kernel("ppl", ReferenceKernels::f32ToF16)),
            Map.entry("f32_to_bf16", new Kernel("ppl", ReferenceKernels::f32ToBf16)),
            Map.entry("repack_q8_0", new Kernel("pppl", ReferenceKernels::repackQ8_0)),
            Map.entry("repack_q4_0", new Kernel("pppl", ReferenceKernels::repackQ4_0)),
            Map.entry("dequant_q8_0_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q8_0))),
            Map.entry("dequant_q4_0_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q4_0))),
            Map.entry("gemv_f16", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.F16))),
            Map.entry("gemv_bf16", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.BF16))),
            Map.entry("gemv_q8_0", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q8_0))),
            Map.entry("gemv_q4_0", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q4_0))),
            Map.entry("gemv_q5_0", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q5_0))),
            Map.entry("repack_q5_0", new Kernel("pppl", ReferenceKernels::repackQ5_0)),
            Map.entry("dequant_q5_0_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q5_0))),
            Map.entry("gemv_q4_1", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q4_1))),
            Map.entry("gemv_q5_1", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q5_1))),
            Map.entry("repack_q4_1", new Kernel("pppl", ReferenceKernels::repackQ4_1)),
            Map.entry("repack_q5_1", new Kernel("pppl", ReferenceKernels::repackQ5_1)),
            Map.entry("dequant_q4_1_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q4_1))),
            Map.entry("dequant_q5_1_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q5_1))),
            Map.entry("gemv_q4_k", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q4_K))),
            Map.entry("gemv_q5_k", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q5_K))),
            Map.entry("gemv_q6_k", new Kernel("ppppiiii", l -> Gemv.run(l, Gemv.Q6_K))),
            Map.entry("dequant_q5_k_f16", new Kernel("pppl", l -> dequant(l, (qs, scales, i) -> q5_k(qs, i)))),
            Map.entry("repack_q6_k", new Kernel("pppl", ReferenceKernels::repackQ6_K)),
            Map.entry("dequant_q4_k_f16", new Kernel("pppl", l -> dequant(l, (qs, scales, i) -> q4_k(qs, i)))),
            Map.entry("dequant_q6_k_f16", new Kernel("pppl", l -> dequant(l, ReferenceKernels::q6_k))),
            Map.entry("embed_gather_q", new Kernel("pppipi", ReferenceKernels::embedGatherQ)),
            Map.entry("embed_gather", new Kernel("ppipi", ReferenceKernels::embedGather)),
            Map.entry("add_inplace", new Kernel("ppl", ReferenceKernels::addInplace)),
            Map.entry("add_row_vector", new Kernel("ppfii", ReferenceKernels::addRowVector)),
            Map.entry("silu_mul", new Kernel("ppl", ReferenceKernels::siluMul)),
            Map.entry("gather_rows", new Kernel("pppi", ReferenceKernels::gatherRows)),
            Map.entry("rmsnorm", new Kernel("pppif", ReferenceKernels::rmsnorm)),
            Map.entry("rmsnorm_backward", new Kernel("pppppif", ReferenceKernels::rmsnormBackward)),
            Map.entry("silu_mul_backward", new Kernel("pppppl", ReferenceKernels::siluMulBackward)),
            Map.entry("rope", new Kernel("pppiiii", ReferenceKernels::rope)),
            Map.entry("kv_store", new Kernel("pppppi", ReferenceKernels::kvStore)),
            Map.entry("attention", new Kernel("pppppiiiffi", ReferenceKernels::attention)),
            Map.entry("attention_tiled", new Kernel("pppppiiiffii", ReferenceKernels::attentionTiled)),
            Map.entry("attention_partial", new Kernel("ppppppiiififi", ReferenceKernels::attentionPartial)),
            Map.entry("attention_merge", new Kernel("pppiii", ReferenceKernels::attentionMerge)),
            Map.entry("add_rmsnorm", new Kernel("ppppifipfpp", ReferenceKernels::addRmsnorm)),
            Map.entry("qkv_rope_store", new Kernel("pippppppppiiiii", ReferenceKernels::qkvRopeStore)),
            Map.entry("silu_mul_store", new Kernel("ppili", ReferenceKernels::siluMulStore)),
            Map.entry("add_row_table", new Kernel("pppii", ReferenceKernels::addRowTable)),
            Map.entry("argmax_rows", new Kernel("ppi", ArgmaxRows::run)),
            Map.entry("pick_rows", new Kernel("ppipp", PickRows::run)),
            Map.entry("attention_backward", new Kernel("pppppppppiiifpifi", ReferenceKernels::attentionBackward)),
            Map.entry("widen_f32", new Kernel("pppil", ReferenceKernels::widenF32)),
            Map.entry("slices", new Kernel("ppppii", ReferenceKernels::slices)),
            Map.entry("column_sums", new Kernel("ppii", ReferenceKernels::columnSums)),
            Map.entry("log_probs", new Kernel("pppi", ReferenceKernels::logProbs)),
            Map.entry("logprob_grad", new Kernel("ppppi", ReferenceKernels::logProbGrad)),
            Map.entry("entropy_rows", new Kernel("ppppi", ReferenceKernels::entropyRows)),
            Map.entry("gelu_mul", new Kernel("ppl", ReferenceKernels::geluMul)),
            Map.entry("gelu_mul_store", new Kernel("ppili", ReferenceKernels::geluMulStore)),
            Map.entry("gelu_mul_backward", new Kernel("pppppl", ReferenceKernels::geluMulBackward)),
            Map.entry("scale_inplace", new Kernel("pfl", ReferenceKernels::scaleInplace)),
            Map.entry("softcap_inplace", new Kernel("pfl", ReferenceKernels::softcapInplace)),
            Map.entry("softcap_backward", new Kernel("ppfl", ReferenceKernels::softcapBackward)));

    // ---------------------------------------------------------------- number formats

    static float half(short h) {
        return Float.float16ToFloat(h);
    }

    /** __float2half_rn: round to nearest even (Java's conversion does the same). */
    static short toHalf(float f) {
        return Float.floatToFloat16(f);
    }

    static float bf16(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** __float2bfloat16_rn: round to nearest even; NaN stays a (quiet) NaN. */
    static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    private static float f(MemorySegment s, long i) {
        return s.getAtIndex(F32, i);
    }

    private static void f(MemorySegment s, long i, float v) {
        s.setAtIndex(F32, i, v);
    }

    // ---------------------------------------------------------------- conversions

    static void f32ToF16(Launch l) {
        MemorySegment out = l.p(0), in = l.p(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) out.setAtIndex(F16, i, toHalf(f(in, i)));
    }

    static void f32ToBf16(Launch l) {
        MemorySegment out = l.p(0), in = l.p(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) out.setAtIndex(F16, i, toBf16(f(in, i)));
    }

    /** ggml Q8_0 blocks (34 bytes: f16 scale, 32 int8) into quants qs[b*32 + j] and scales d[b]. */
    static void repackQ8_0(Launch l) {
        MemorySegment qs = l.p(0), d = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            d.setAtIndex(F16, b, blocks.get(F16, b * 34));
            MemorySegment.copy(blocks, b * 34 + 2, qs, b * 32, 32);
        }
    }

    /** ggml Q4_0 blocks (18 bytes: f16 scale, 16 bytes of nibbles) into qs[b*16 + j] (same nibble order) and d[b]. */
    static void repackQ4_0(Launch l) {
        MemorySegment qs = l.p(0), d = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            d.setAtIndex(F16, b, blocks.get(F16, b * 18));
            MemorySegment.copy(blocks, b * 18 + 2, qs, b * 16, 16);
        }
    }

    /** Weight i of repacked Q8_0: d[i/32] * qs[i], in float. */
    static float q8_0(MemorySegment qs, MemorySegment d, long i) {
        return half(d.getAtIndex(F16, i / 32)) * qs.get(JAVA_BYTE, i);
    }

    /** Weight i of repacked Q4_0: d[b] * (nibble - 8), the low nibble of byte b*16 + j%16 for j < 16, else the high one. */
    static float q4_0(MemorySegment qs, MemorySegment d, long i) {
        long b = i / 32;
        int j = (int) (i % 32), q = qs.get(JAVA_BYTE, b * 16 + j % 16) & 0xFF;
        return half(d.getAtIndex(F16, b)) * ((j < 16 ? q & 0x0F : q >> 4) - 8);
    }

    /** ggml Q5_0 blocks (22 bytes: f16 d, qh[4], qs[16]) into 20-byte blocks (qs, then qh) and d[b]. */
    static void repackQ5_0(Launch l) {
        MemorySegment qs = l.p(0), d = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            d.setAtIndex(F16, b, blocks.get(F16, b * 22));
            MemorySegment.copy(blocks, b * 22 + 6, qs, b * 20, 16);
            MemorySegment.copy(blocks, b * 22 + 2, qs, b * 20 + 16, 4);
        }
    }

    /** Weight i of repacked Q5_0: d[b] * (nibble (j < 16 ? low : high) of byte j % 16, plus 16 times bit j of qh, - 16). */
    static float q5_0(MemorySegment qs, MemorySegment d, long i) {
        return half(d.getAtIndex(F16, i / 32)) * q5_0Quant(qs, i);
    }

    /** The quant of weight i of repacked Q5_0, -16 .. 15 (the weight without its scale). */
    static int q5_0Quant(MemorySegment qs, long i) {
        long blk = i / 32 * 20;
        int j = (int) (i % 32), q = u8(qs, blk + j % 16);
        return ((j < 16 ? q & 0x0F : q >> 4) | (((u8(qs, blk + 16 + j / 8) >> (j % 8)) & 1) << 4)) - 16;
    }

    /** ggml Q4_1 blocks (20 bytes: f16 d, f16 m, qs[16]) into qs[b*16 + j] and the pair dm[2b], dm[2b+1]. */
    static void repackQ4_1(Launch l) {
        MemorySegment qs = l.p(0), dm = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            MemorySegment.copy(blocks, b * 20, dm, b * 4, 4);
            MemorySegment.copy(blocks, b * 20 + 4, qs, b * 16, 16);
        }
    }

    /** ggml Q5_1 blocks (24 bytes: f16 d, f16 m, qh[4], qs[16]) into 20-byte blocks (qs, then qh) and the pairs d, m. */
    static void repackQ5_1(Launch l) {
        MemorySegment qs = l.p(0), dm = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            MemorySegment.copy(blocks, b * 24, dm, b * 4, 4);
            MemorySegment.copy(blocks, b * 24 + 8, qs, b * 20, 16);
            MemorySegment.copy(blocks, b * 24 + 4, qs, b * 20 + 16, 4);
        }
    }

    /** Weight i of repacked Q4_1: q * d + m (a multiply, then an add), q the nibble as in Q4_0 (no offset). */
    static float q4_1(MemorySegment qs, MemorySegment dm, long i) {
        long b = i / 32;
        int j = (int) (i % 32), q = u8(qs, b * 16 + j % 16);
        return (j < 16 ? q & 0x0F : q >> 4) * half(dm.getAtIndex(F16, 2 * b)) + half(dm.getAtIndex(F16, 2 * b + 1));
    }

    /** Weight i of repacked Q5_1: q * d + m, q Q5_0's 5-bit quant without its offset. */
    static float q5_1(MemorySegment qs, MemorySegment dm, long i) {
        long b = i / 32;
        return (q5_0Quant(qs, i) + 16) * half(dm.getAtIndex(F16, 2 * b)) + half(dm.getAtIndex(F16, 2 * b + 1));
    }

    interface WeightOf {
        float at(MemorySegment qs, MemorySegment scales, long i);
    }

    /** out[i] = f16 of weight i < n of a quantized matrix in its device form (the dequant_*_f16 kernels). */
    static void dequant(Launch l, WeightOf weight) {
        MemorySegment out = l.p(0), qs = l.p(1), d = l.pOrNull(2); // Q4_K / Q5_K have no scales array
        long n = l.l(3);
        for (long i = 0; i < n; i++) out.setAtIndex(F16, i, toHalf(weight.at(qs, d, i)));
    }

    /** ggml Q6_K blocks (210 bytes: ql[128], qh[64], int8 scales[16], f16 d) into 208-byte blocks (ql, qh, scales) and d[b]. */
    static void repackQ6_K(Launch l) {
        MemorySegment qs = l.p(0), d = l.p(1), blocks = l.p(2);
        long nblocks = l.l(3);
        for (long b = 0; b < nblocks; b++) {
            d.setAtIndex(F16, b, blocks.get(F16, b * 210 + 208));
            MemorySegment.copy(blocks, b * 210, qs, b * 208, 208);
        }
    }

    /**
     * Weight i of Q4_K blocks as stored (144 bytes: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes): position j of
     * block i/256 is in 64-weight group g = j/64, sub-block 2g (low nibbles of bytes 32g..32g+31) or 2g+1 (high
     * nibbles); value q * (d*scale) - dmin*min with ggml's 6-bit scales and mins, as the kernels compute it.
     */
    static float q4_k(MemorySegment blocks, long i) {
        long blk = i / 256 * 144;
        int j = (int) (i % 256), g = j / 64, within = j % 64, sb = 2 * g + within / 32;
        int q = blocks.get(JAVA_BYTE, blk + 16 + 32 * g + within % 32) & 0xFF;
        q = within < 32 ? q & 0x0F : q >> 4;
        float[] f = kScaleMin(blocks, blk, sb);
        return q * f[0] - f[1]; // two roundings, as the CPU's dequantization and the kernels (no fused multiply-add)
    }

    /**
     * Weight i of Q5_K blocks as stored (176 bytes: Q4_K's 16-byte header, qh[32], 128 nibble bytes): Q4_K's nibble at
     * position j plus 16 times bit (sub-block) of qh[j % 32], the same scales and arithmetic.
     */
    static float q5_k(MemorySegment blocks, long i) {
        long blk = i / 256 * 176;
        int j = (int) (i % 256), g = j / 64, within = j % 64, sb = 2 * g + within / 32, l = within % 32;
        int q = u8(blocks, blk + 48 + 32 * g + l);
        q = (within < 32 ? q & 0x0F : q >> 4) | (((u8(blocks, blk + 16 + l) >> sb) & 1) << 4);
        float[] f = kScaleMin(blocks, blk, sb);
        return q * f[0] - f[1];
    }

    /** {d * scale, dmin * min} of sub-block sb of the Q4_K / Q5_K block at blk (ggml's get_scale_min_k4). */
    private static float[] kScaleMin(MemorySegment blocks, long blk, int sb) {
        int sc, m;
        if (sb < 4) {
            sc = u8(blocks, blk + 4 + sb) & 63;
            m = u8(blocks, blk + 8 + sb) & 63;
        } else {
            sc = (u8(blocks, blk + 8 + sb) & 0x0F) | ((u8(blocks, blk + sb) >> 6) << 4);
            m = (u8(blocks, blk + 8 + sb) >> 4) | ((u8(blocks, blk + 4 + sb) >> 6) << 4);
        }
        return new float[]{half(blocks.get(F16, blk)) * sc, half(blocks.get(F16, blk + 2)) * m};
    }

    /**
     * Weight i of repacked Q6_K (208-byte blocks, f16 d[i/256]): position j = 128h + 32u + l of its block has low bits
     * from a nibble of ql[64h + 32(u&1) + l] (the low one for u &lt; 2), top bits 2u, 2u+1 of qh[32h + l] and scale
     * scales[8h + 2u + l/16]; value (d * scale) * (q - 32).
     */
    static float q6_k(MemorySegment blocks, MemorySegment d, long i) {
        long blk = i / 256 * 208;
        int j = (int) (i % 256), h = j / 128, u = (j % 128) / 32, l = j % 32;
        int low = u8(blocks, blk + 64 * h + 32 * (u & 1) + l);
        int q = (u < 2 ? low & 0x0F : low >> 4) | (((u8(blocks, blk + 128 + 32 * h + l) >> (2 * u)) & 3) << 4);
        float ds = half(d.getAtIndex(F16, i / 256)) * blocks.get(JAVA_BYTE, blk + 192 + 8 * h + 2 * u + l / 16);
        return ds * (q - 32);
    }

    private static int u8(MemorySegment s, long at) {
        return s.get(JAVA_BYTE, at) & 0xFF;
    }

    // ---------------------------------------------------------------- embedding

    /** out[t] = table[tokens[t]] for gridDim.x tokens; dtype 0 f32, 1 f16, 2 bf16. */
    static void embedGather(Launch l) {
        MemorySegment out = l.p(0), table = l.p(1), tokens = l.p(3);
        int dtype = l.i(2), dim = l.i(4);
        for (int t = 0; t < l.gridX(); t++) {
            long row = (long) tokens.getAtIndex(I32, t) * dim;
            for (int d = 0; d < dim; d++) {
                float v = switch (dtype) {
                    case 0 -> f(table, row + d);
                    case 1 -> half(table.getAtIndex(F16, row + d));
                    default -> bf16(table.getAtIndex(F16, row + d));
                };
                f(out, (long) t * dim + d, v);
            }
        }
    }

    /**
     * out[t] = row tokens[t] of a quantized table in its device form (format: ggml's type number, 8 Q8_0, 2 Q4_0, 6 Q5_0, 3 Q4_1, 7 Q5_1, 12 Q4_K, 13 Q5_K,
     * 14 Q6_K), in
     * float, for gridDim.x tokens.
     */
    static void embedGatherQ(Launch l) {
        MemorySegment out = l.p(0), qs = l.p(1), d = l.pOrNull(2), tokens = l.p(4);
        int format = l.i(3), dim = l.i(5);
        for (int t = 0; t < l.gridX(); t++) {
            long row = (long) tokens.getAtIndex(I32, t) * dim;
            for (int c = 0; c < dim; c++) {
                float v = switch (format) {
                    case 8 -> q8_0(qs, d, row + c);
                    case 2 -> q4_0(qs, d, row + c);
                    case 6 -> q5_0(qs, d, row + c);
                    case 3 -> q4_1(qs, d, row + c);
                    case 7 -> q5_1(qs, d, row + c);
                    case 12 -> q4_k(qs, row + c);
                    case 13 -> q5_k(qs, row + c);
                    case 14 -> q6_k(qs, d, row + c);
                    default -> throw new IllegalArgumentException("embed_gather_q: format " + format);
                };
                f(out, (long) t * dim + c, v);
            }
        }
    }

    // ---------------------------------------------------------------- element-wise

    static void addInplace(Launch l) {
        MemorySegment y = l.p(0), x = l.p(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) f(y, i, f(y, i) + f(x, i));
    }

    /** y[r][c] += scale * v[c], the product rounded before the add (the kernel's __fadd_rn(y, __fmul_rn(s, v))). */
    static void addRowVector(Launch l) {
        MemorySegment y = l.p(0), v = l.p(1);
        float scale = l.f(2);
        int rows = l.i(3), width = l.i(4);
        for (long i = 0; i < (long) rows * width; i++) {
            float prod = scale * f(v, i % width);
            f(y, i, f(y, i) + prod);
        }
    }

    static void siluMul(Launch l) {
        MemorySegment gate = l.p(0), up = l.p(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) {
            float g = f(gate, i);
            f(gate, i, g / (1.0f + (float) Math.exp(-g)) * f(up, i));
        }
    }

    /** sqrt(2/pi), as the kernels' GELU_C. */
    private static final float GELU_C = 0.7978845608028654f;

    /** gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))) in float, tanh rounded to float. */
    static float geluTanh(float g) {
        return 0.5f * g * (1.0f + (float) Math.tanh(GELU_C * (g + 0.044715f * g * g * g)));
    }

    static void geluMul(Launch l) {
        MemorySegment gate = l.p(0), up = l.p(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) f(gate, i, geluTanh(f(gate, i)) * f(up, i));
    }

    /** y *= a */
    static void scaleInplace(Launch l) {
        MemorySegment y = l.p(0);
        float a = l.f(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) f(y, i, f(y, i) * a);
    }

    /** y = cap * tanh(y / cap) */
    static void softcapInplace(Launch l) {
        MemorySegment y = l.p(0);
        float cap = l.f(1);
        long n = l.l(2);
        for (long i = 0; i < n; i++) f(y, i, cap * (float) Math.tanh(f(y, i) / cap));
    }

    /** dy *= 1 - (y / cap)^2, y the capped output. */
    static void softcapBackward(Launch l) {
        MemorySegment dy = l.p(0), y = l.p(1);
        float cap = l.f(2);
        long n = l.l(3);
        for (long i = 0; i < n; i++) {
            float r = f(y, i) / cap;
            f(dy, i, f(dy, i) * (1.0f - r * r));
        }
    }

    /** dst[r] = src[index[r]] for gridDim.x rows. */
    static void gatherRows(Launch l) {
        MemorySegment dst = l.p(0), src = l.p(1), index = l.p(2);
        int width = l.i(3);
        for (int r = 0; r < l.gridX(); r++) {
            MemorySegment.copy(src, (long) index.getAtIndex(I32, r) * width * 4, dst, (long) r * width * 4, (long) width * 4);
        }
    }

    // ---------------------------------------------------------------- RMSNorm

    /** out[r] = x[r] * rsqrt(mean(x[r]^2) + eps) * w for gridDim.x rows (out may alias x). */
    static void rmsnorm(Launch l) {
        MemorySegment out = l.p(0), x = l.p(1), w = l.p(2);
        int width = l.i(3);
        float eps = l.f(4);
        IntStream.range(0, l.gridX()).parallel().forEach(r -> {
            long base = (long) r * width;
            float ss = 0;
            for (int i = 0; i < width; i++) ss += f(x, base + i) * f(x, base + i);
            float scale = (float) (1.0 / Math.sqrt(ss / width + eps));
            for (int i = 0; i < width; i++) f(out, base + i, f(x, base + i) * scale * f(w, i));
        });
    }

    /** dx += r (dy w) - x r^3 / n sum(dy w x); dw += dy x r when dw is given (rows summed in order). */
    static void rmsnormBackward(Launch l) {
        MemorySegment dx = l.p(0), dw = l.pOrNull(1), dy = l.p(2), x = l.p(3), w = l.p(4);
        int width = l.i(5);
        float eps = l.f(6);
        for (int row = 0; row < l.gridX(); row++) {
            long base = (long) row * width;
            float ss = 0, dot = 0;
            for (int i = 0; i < width; i++) {
                float xi = f(x, base + i);
                ss += xi * xi;
                dot += f(dy, base + i) * f(w, i) * xi;
            }
            float r = (float) (1.0 / Math.sqrt(ss / width + eps));
            float c = r * r * r / width * dot;
            for (int i = 0; i < width; i++) {
                float xi = f(x, base + i), g = f(dy, base + i);
                f(dx, base + i, f(dx, base + i) + (r * g * f(w, i) - xi * c));
                if (dw != null) f(dw, i, f(dw, i) + g * xi * r);
            }
        }
    }

    static void siluMulBackward(Launch l) {
        MemorySegment dgate = l.p(0), dup = l.p(1), dout = l.p(2), gate = l.p(3), up = l.p(4);
        long n = l.l(5);
        for (long i = 0; i < n; i++) {
            float g = f(gate, i), s = 1.0f / (1.0f + (float) Math.exp(-g)), d = f(dout, i);
            f(dgate, i, d * f(up, i) * s * (1.0f + g * (1.0f - s)));
            f(dup, i, d * g * s);
        }
    }

    /** dgate = dout * up * gelu'(gate), dup = dout * gelu(gate), gelu' written out as the kernel writes it. */
    static void geluMulBackward(Launch l) {
        MemorySegment dgate = l.p(0), dup = l.p(1), dout = l.p(2), gate = l.p(3), up = l.p(4);
        long n = l.l(5);
        for (long i = 0; i < n; i++) {
            float g = f(gate, i), t = (float) Math.tanh(GELU_C * (g + 0.044715f * g * g * g)), d = f(dout, i);
            float deriv = 0.5f * (1.0f + t) + 0.5f * g * (1.0f - t * t) * GELU_C * (1.0f + 3.0f * 0.044715f * g * g);
            f(dgate, i, d * f(up, i) * deriv);
            f(dup, i, d * 0.5f * g * (1.0f + t));
        }
    }

    // ---------------------------------------------------------------- RoPE

    /** Rotates each head of gridDim.x rows by its row's position; angles in double as the kernel computes them. */
    static void rope(Launch l) {
        MemorySegment x = l.p(0), positions = l.p(1), freqs = l.p(2);
        int heads = l.i(3), headDim = l.i(4), rotDims = l.i(5);
        boolean neox = l.i(6) != 0;
        int half = rotDims / 2;
        for (int row = 0; row < l.gridX(); row++) {
            double p = positions.getAtIndex(I32, row);
            long xr = (long) row * heads * headDim;
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double ang = p * freqs.getAtIndex(F64, i);
                    float c = (float) Math.cos(ang), s = (float) Math.sin(ang);
                    long ia = xr + (long) h * headDim + (neox ? i : 2 * i), ib = xr + (long) h * headDim + (neox ? i + half : 2 * i + 1);
                    float a = f(x, ia), b = f(x, ib);
                    f(x, ia, a * c - b * s);
                    f(x, ib, a * s + b * c);
                }
            }
        }
    }

    // ---------------------------------------------------------------- KV cache and attention

    /** Row r's key and value go to its sequence's layer cache (layerBaseK[r], layerBaseV[r]) at positions[r]. */
    static void kvStore(Launch l) {
        MemorySegment baseK = l.p(0), baseV = l.p(1), positions = l.p(2), k = l.p(3), v = l.p(4);
        int kvDim = l.i(5);
        long bytes = 4L * kvDim;
        for (int row = 0; row < l.gridX(); row++) {
            long at = positions.getAtIndex(I32, row) * bytes;
            MemorySegment.copy(k, row * bytes, l.mem().range(baseK.getAtIndex(U64, row) + at, bytes), 0, bytes);
            MemorySegment.copy(v, row * bytes, l.mem().range(baseV.getAtIndex(U64, row) + at, bytes), 0, bytes);
        }
    }

    /**
     * Causal grouped-query attention, grid (heads, rows): out[t][h] = sum_j softmax_j(s_j) v_j over positions
     * j = first..positions[t] of row t's cache, kv head h / (heads / kvHeads), s_j = q[t][h] . k_j * scale, soft-capped
     * to cap * tanh(s_j / cap) when cap &gt; 0; first = max(0, positions[t] - window + 1) when window &gt; 0, else 0.
     */
    static void attention(Launch l) {
        attentionRows(l, l.gridY());
    }

    /** ATT_TILE_ROWS of the .cu source: the query rows of one attention_tiled block. */
    static final int ATTENTION_TILE_ROWS = 16;

    /**
     * {@link #attention} over {@code rows} (its last parameter) rows of one sequence, grid (heads, ceil(rows / 16)):
     * the kernel's result is the same math, tiled; this checks the launch and the precondition that every row reads
     * the same cache (a caller that broke it would get other rows' keys on a GPU).
     */
    static void attentionTiled(Launch l) {
        int rows = l.i(11);
        if (rows < 1 || l.gridY() != (rows + ATTENTION_TILE_ROWS - 1) / ATTENTION_TILE_ROWS || l.blockX() != 128) {
            throw new IllegalArgumentException("attention_tiled: " + rows + " rows in grid.y " + l.gridY() + ", block " + l.blockX());
        }
        MemorySegment baseK = l.p(2), baseV = l.p(3);
        for (int t = 1; t < rows; t++) {
            if (baseK.getAtIndex(U64, t) != baseK.getAtIndex(U64, 0) || baseV.getAtIndex(U64, t) != baseV.getAtIndex(U64, 0)) {
                throw new IllegalArgumentException("attention_tiled: row " + t + " reads another sequence's cache than row 0");
            }
        }
        attentionRows(l, rows);
    }

    private static void attentionRows(Launch l, int rows) {
        MemorySegment out = l.p(0), q = l.p(1), baseK = l.p(2), baseV = l.p(3), positions = l.p(4);
        int heads = l.i(5), kvHeads = l.i(6), headDim = l.i(7);
        float scale = l.f(8), cap = l.f(9);
        int window = l.i(10);
        int group = heads / kvHeads, kvDim = kvHeads * headDim;
        if (l.gridX() != heads) throw new IllegalArgumentException("attention: gridDim.x " + l.gridX() + " != heads " + heads);
        IntStream.range(0, rows * heads).parallel().forEach(th -> {
            int t = th / heads, h = th % heads;
            int pos = positions.getAtIndex(I32, t);
            MemorySegment kc = l.mem().range(baseK.getAtIndex(U64, t), 4L * (pos + 1) * kvDim);
            MemorySegment vc = l.mem().range(baseV.getAtIndex(U64, t), 4L * (pos + 1) * kvDim);
            long qh = ((long) t * heads + h) * headDim, kvOff = (long) (h / group) * headDim;
            float[] acc = new float[headDim];
            float sum = softmaxWeightedSum(q, qh, kc, vc, kvOff, kvDim, headDim, firstPosition(pos, window), pos + 1, scale, cap, acc)[1];
            for (int d = 0; d < headDim; d++) f(out, qh + d, acc[d] / sum);
        });
    }

    /**
     * Over positions [begin, end) of one head's cache: scores q.k_j * scale (soft-capped to cap * tanh(score / cap)
     * when cap &gt; 0), their max m, l = sum_j e^(score_j - m),
     * and acc = sum_j e^(score_j - m) v_j. Returns {m, l}. Attention is acc / l over the whole context; split
     * attention keeps acc, m and l per chunk for the merge.
     */
    private static float[] softmaxWeightedSum(MemorySegment q, long qh, MemorySegment kc, MemorySegment vc, long kvOff, int kvDim, int headDim,
                                              int begin, int end, float scale, float cap, float[] acc) {
        float[] sc = new float[end - begin];
        float max = Float.NEGATIVE_INFINITY;
        for (int j = begin; j < end; j++) {
            float dot = 0;
            for (int d = 0; d < headDim; d++) dot += f(q, qh + d) * f(kc, (long) j * kvDim + kvOff + d);
            float s = dot * scale;
            sc[j - begin] = cap > 0 ? cap * (float) Math.tanh(s / cap) : s;
            max = Math.max(max, sc[j - begin]);
        }
        float sum = 0;
        for (int j = 0; j < sc.length; j++) {
            sc[j] = (float) Math.exp(sc[j] - max);
            sum += sc[j];
        }
        for (int d = 0; d < headDim; d++) {
            float a = 0;
            for (int j = begin; j < end; j++) a += sc[j - begin] * f(vc, (long) j * kvDim + kvOff + d);
            acc[d] = a;
        }
        return new float[]{max, sum};
    }

    /**
     * One chunk of the context per block (head, row, split = gridDim.z): over positions [max(s*chunk, first),
     * min(pos+1, (s+1)*chunk)), the unnormalised sum a = sum_j e^(score_j - m) v_j with m = max score and
     * l = sum_j e^(score_j - m), scores, cap and first as in {@link #attention}; an empty chunk (past the position or
     * wholly before the window) gives m = -inf, l = 0, a = 0.
     */
    /** The first key position a query at {@code pos} sees: max(0, pos - window + 1) for a sliding window, else 0. */
    private static int firstPosition(int pos, int window) {
        return window > 0 ? Math.max(0, pos - window + 1) : 0;
    }

    static void attentionPartial(Launch l) {
        MemorySegment partial = l.p(0), ml = l.p(1), q = l.p(2), baseK = l.p(3), baseV = l.p(4), positions = l.p(5);
        int heads = l.i(6), kvHeads = l.i(7), headDim = l.i(8), chunk = l.i(10);
        float scale = l.f(9), cap = l.f(11);
        int window = l.i(12);
        int group = heads / kvHeads, kvDim = kvHeads * headDim, rows = l.gridY(), splits = l.gridZ();
        IntStream.range(0, rows * heads * splits).parallel().forEach(slotIndex -> {
            int sp = slotIndex % splits, th = slotIndex / splits, t = th / heads, h = th % heads;
            int pos = positions.getAtIndex(I32, t);
            int begin = Math.max(sp * chunk, firstPosition(pos, window)), end = Math.min(pos + 1, sp * chunk + chunk);
            long slot = ((long) t * heads + h) * splits + sp;
            long qh = ((long) t * heads + h) * headDim, kvOff = (long) (h / group) * headDim;
            if (end <= begin) {
                for (int d = 0; d < headDim; d++) f(partial, slot * headDim + d, 0f);
                f(ml, 2 * slot, Float.NEGATIVE_INFINITY);
                f(ml, 2 * slot + 1, 0f);
                return;
            }
            MemorySegment kc = l.mem().range(baseK.getAtIndex(U64, t), 4L * end * kvDim);
            MemorySegment vc = l.mem().range(baseV.getAtIndex(U64, t), 4L * end * kvDim);
            float[] acc = new float[headDim];
            float[] maxSum = softmaxWeightedSum(q, qh, kc, vc, kvOff, kvDim, headDim, begin, end, scale, cap, acc);
            for (int d = 0; d < headDim; d++) f(partial, slot * headDim + d, acc[d]);
            f(ml, 2 * slot, maxSum[0]);
            f(ml, 2 * slot + 1, maxSum[1]);
        });
    }

    /** out[t][h] = sum_s a_s e^(m_s - M) / sum_s l_s e^(m_s - M) with M = max_s m_s, grid (heads, rows). */
    static void attentionMerge(Launch l) {
        MemorySegment out = l.p(0), partial = l.p(1), ml = l.p(2);
        int heads = l.i(3), headDim = l.i(4), splits = l.i(5), rows = l.gridY();
        for (int t = 0; t < rows; t++) {
            for (int h = 0; h < heads; h++) {
                long base = ((long) t * heads + h) * splits;
                float max = Float.NEGATIVE_INFINITY;
                for (int s = 0; s < splits; s++) max = Math.max(max, f(ml, 2 * (base + s)));
                float sum = 0;
                float[] w = new float[splits];
                for (int s = 0; s < splits; s++) {
                    float ms = f(ml, 2 * (base + s));
                    w[s] = ms == Float.NEGATIVE_INFINITY ? 0 : (float) Math.exp(ms - max);
                    sum += f(ml, 2 * (base + s) + 1) * w[s];
                }
                for (int d = 0; d < headDim; d++) {
                    float a = 0;
                    for (int s = 0; s < splits; s++) if (w[s] != 0) a += f(partial, (base + s) * headDim + d) * w[s];
                    f(out, ((long) t * heads + h) * headDim + d, a / sum);
                }
            }
        }
    }

    // ---------------------------------------------------------------- fused decode kernels

    /** store_as: y as float32 (0), float16 (1) or bfloat16 (2) at element i. */
    static void storeAs(MemorySegment out, long i, float y, int type) {
        switch (type) {
            case 0 -> f(out, i, y);
            case 2 -> out.setAtIndex(F16, i, toBf16(y));
            default -> out.setAtIndex(F16, i, toHalf(y));
        }
    }

    /** x += branch (when given), then out = rmsnorm(x) * w stored as type; one row per grid block. */
    static void addRmsnorm(Launch l) {
        MemorySegment x = l.p(0), branch = l.pOrNull(1), out = l.p(2), w = l.p(3), steer = l.pOrNull(7), rowVecs = l.pOrNull(9),
                rowScales = l.pOrNull(10);
        int width = l.i(4), type = l.i(6);
        float eps = l.f(5), steerScale = l.f(8);
        IntStream.range(0, l.gridX()).parallel().forEach(r -> {
            long base = (long) r * width;
            long rowVec = rowVecs == null ? 0 : rowVecs.getAtIndex(U64, r);
            MemorySegment rv = rowVec == 0 ? null : l.mem().range(rowVec, 4L * width);
            float rs = rv == null ? 0 : f(rowScales, r);
            boolean write = branch != null || steer != null || rv != null;
            float ss = 0;
            for (int i = 0; i < width; i++) {
                float v = f(x, base + i);
                if (branch != null) v = v + f(branch, base + i);
                if (steer != null) v = v + steerScale * f(steer, i);    // Java rounds the product, then the sum: no fma
                if (rv != null) v = v + rs * f(rv, i);
                if (write) f(x, base + i, v);
                ss += v * v;
            }
            float scale = (float) (1.0 / Math.sqrt(ss / width + eps));
            for (int i = 0; i < width; i++) storeAs(out, base + i, f(x, base + i) * scale * f(w, i), type);
        });
    }

    /** Biases, RoPE on q and k (angles in double), q to qOut, k and v into the row's cache; one row per grid block. */
    static void qkvRopeStore(Launch l) {
        MemorySegment qkv = l.p(0), qOut = l.p(2), bq = l.pOrNull(3), bk = l.pOrNull(4), bv = l.pOrNull(5), positions = l.p(6), freqs = l.p(7),
                baseK = l.p(8), baseV = l.p(9);
        int stride = l.i(1), heads = l.i(10), kvHeads = l.i(11), headDim = l.i(12), rotDims = l.i(13);
        boolean neox = l.i(14) != 0;
        int qDim = heads * headDim, kvDim = kvHeads * headDim, half = rotDims / 2;
        for (int row = 0; row < l.gridX(); row++) {
            long src = (long) row * stride;
            int pos = positions.getAtIndex(I32, row);
            MemorySegment kc = l.mem().range(baseK.getAtIndex(U64, row) + 4L * pos * kvDim, 4L * kvDim);
            MemorySegment vc = l.mem().range(baseV.getAtIndex(U64, row) + 4L * pos * kvDim, 4L * kvDim);
            for (int h = 0; h < heads + kvHeads; h++) {
                boolean isQ = h < heads;
                int hh = isQ ? h : h - heads;
                long s = src + (isQ ? 0 : qDim) + (long) hh * headDim;
                MemorySegment b = isQ ? bq : bk, d = isQ ? qOut : kc;
                long dOff = isQ ? (long) row * qDim + (long) hh * headDim : (long) hh * headDim;
                float[] v = new float[headDim];
                for (int j = 0; j < headDim; j++) v[j] = b == null ? f(qkv, s + j) : f(qkv, s + j) + f(b, (long) hh * headDim + j);
                for (int i = 0; i < half; i++) {
                    int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
                    double ang = pos * freqs.getAtIndex(F64, i);
                    float c = (float) Math.cos(ang), sn = (float) Math.sin(ang), a = v[ia], c2 = v[ib];
                    v[ia] = a * c - c2 * sn;
                    v[ib] = a * sn + c2 * c;
                }
                for (int j = 0; j < headDim; j++) f(d, dOff + j, v[j]);
            }
            for (int i = 0; i < kvDim; i++) f(vc, i, bv == null ? f(qkv, src + qDim + kvDim + i) : f(qkv, src + qDim + kvDim + i) + f(bv, i));
        }
    }

    /** out = silu(gate) * up over rows of gate|up (2*ffn floats each), stored as type. */
    static void siluMulStore(Launch l) {
        MemorySegment out = l.p(0), gu = l.p(1);
        int ffn = l.i(2), type = l.i(4);
        long n = l.l(3);
        for (long i = 0; i < n; i++) {
            long r = i / ffn, c = i % ffn;
            float g = f(gu, r * 2 * ffn + c), u = f(gu, r * 2 * ffn + ffn + c);
            storeAs(out, i, g / (1.0f + (float) Math.exp(-g)) * u, type);
        }
    }

    /** out = gelu_tanh(gate) * up over rows of gate|up (2*ffn floats each), stored as type. */
    static void geluMulStore(Launch l) {
        MemorySegment out = l.p(0), gu = l.p(1);
        int ffn = l.i(2), type = l.i(4);
        long n = l.l(3);
        for (long i = 0; i < n; i++) {
            long r = i / ffn, c = i % ffn;
            storeAs(out, i, geluTanh(f(gu, r * 2 * ffn + c)) * f(gu, r * 2 * ffn + ffn + c), type);
        }
    }

    /** y[r][c] += scales[r] * vecs[r][c] where vecs[r] != 0, product rounded before the add. */
    static void addRowTable(Launch l) {
        MemorySegment y = l.p(0), vecs = l.p(1), scales = l.p(2);
        int rows = l.i(3), width = l.i(4);
        for (int r = 0; r < rows; r++) {
            long v = vecs.getAtIndex(U64, r);
            if (v == 0) continue;
            MemorySegment vec = l.mem().range(v, 4L * width);
            float s = f(scales, r);
            for (int c = 0; c < width; c++) {
                float prod = s * f(vec, c);
                f(y, (long) r * width + c, f(y, (long) r * width + c) + prod);
            }
        }
    }

    // ---------------------------------------------------------------- training: backward through activations

    /**
     * Backward of causal GQA attention over packed sequences, grid (heads, rows): for row t (position positions[t] of
     * the sequence starting at row seqStart[t]) and head h, with kv head h / (heads/kvHeads) and j = first..positions[t]
     * over rows seqStart[t] + j (first as in {@link #attention}): s_j = (q_t.k_j) * scale, c_j = cap * tanh(s_j / cap)
     * when cap &gt; 0 else s_j, p = softmax(c) (max subtracted), dp_j = dOut_t.v_j, ds_j = p_j (dp_j - sum_i p_i dp_i)
     * * (1 - (c_j / cap)^2 when cap &gt; 0) * scale; dq_t += sum_j ds_j k_j, dk_j += ds_j q_t, dv_j += p_j dOut_t. Like the
     * kernel it leaves p[first..pos] in the (row, head)'s scratch slot (rows*heads*2*stride floats) and ds `stride` floats after it;
     * a position past stride - 1, which the kernel would write over the next slot, is an error here. kv heads run in
     * parallel (each owns its columns of dk, dv), rows and the group's heads in order.
     */
    static void attentionBackward(Launch l) {
        MemorySegment dq = l.p(0), dk = l.p(1), dv = l.p(2), dOut = l.p(3), q = l.p(4), k = l.p(5), v = l.p(6), seqStart = l.p(7),
                positions = l.p(8), scratch = l.p(13);
        int heads = l.i(9), kvHeads = l.i(10), headDim = l.i(11), stride = l.i(14), window = l.i(16);
        float scale = l.f(12), cap = l.f(15);
        int group = heads / kvHeads, qDim = heads * headDim, kvDim = kvHeads * headDim, rows = l.gridY();
        if (l.gridX() != heads) throw new IllegalArgumentException("attention_backward: gridDim.x " + l.gridX() + " != heads " + heads);
        for (int t = 0; t < rows; t++) {
            int pos = positions.getAtIndex(I32, t);
            if (pos < 0 || pos >= stride) throw new IllegalArgumentException("attention_backward: row " + t + " at position " + pos + ", scratch stride " + stride);
        }
        IntStream.range(0, kvHeads).parallel().forEach(kvh -> {
            for (int t = 0; t < rows; t++) {
                int pos = positions.getAtIndex(I32, t), first = firstPosition(pos, window);
                long kv0 = (long) seqStart.getAtIndex(I32, t) * kvDim + (long) kvh * headDim;
                for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                    long qOff = (long) t * qDim + (long) h * headDim, slot = ((long) t * heads + h) * 2 * stride;
                    float[] p = new float[pos + 1], ds = new float[pos + 1];
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = first; j <= pos; j++) {
                        float s = 0, dp = 0;
                        for (int d = 0; d < headDim; d++) {
                            s += f(q, qOff + d) * f(k, kv0 + (long) j * kvDim + d);
                            dp += f(dOut, qOff + d) * f(v, kv0 + (long) j * kvDim + d);
                        }
                        s *= scale;
                        p[j] = cap > 0 ? cap * (float) Math.tanh(s / cap) : s;
                        ds[j] = dp;
                        max = Math.max(max, p[j]);
                    }
                    float[] c = p.clone(); // the capped scores, for the cap's derivative
                    float sum = 0;
                    for (int j = first; j <= pos; j++) {
                        p[j] = (float) Math.exp(p[j] - max);
                        sum += p[j];
                    }
                    float pdp = 0;
                    for (int j = first; j <= pos; j++) {
                        p[j] /= sum;
                        pdp += p[j] * ds[j];
                    }
                    for (int j = first; j <= pos; j++) {
                        float r = c[j] / cap;
                        ds[j] = p[j] * (ds[j] - pdp) * (cap > 0 ? 1.0f - r * r : 1.0f) * scale;
                        f(scratch, slot + j, p[j]);
                        f(scratch, slot + stride + j, ds[j]);
                    }
                    for (int d = 0; d < headDim; d++) {
                        float a = 0;
                        for (int j = first; j <= pos; j++) a += ds[j] * f(k, kv0 + (long) j * kvDim + d);
                        f(dq, qOff + d, f(dq, qOff + d) + a);
                    }
                    for (int j = first; j <= pos; j++) {
                        for (int d = 0; d < headDim; d++) {
                            long at = kv0 + (long) j * kvDim + d;
                            f(dk, at, f(dk, at) + ds[j] * f(q, qOff + d));
                            f(dv, at, f(dv, at) + p[j] * f(dOut, qOff + d));
                        }
                    }
                }
            }
        });
    }

    /**
     * out[i] = element i < n of a matrix in device format `format` (DeviceFormat's ordinal: 0 F32, 1 F16, 2 BF16, 3
     * Q8_0, 4 Q4_0, 5 Q4_K, 6 Q6_K, 7 Q5_K, 8 Q5_0, 9 Q4_1, 10 Q5_1, in their device forms), Q8_0 / Q4_0 as the float product of the f16
     * scale and the quant, the others as {@link #q4_k} / {@link #q6_k} / {@link #q5_k} / {@link #q5_0} / {@link #q4_1} / {@link #q5_1}.
     */
    static void widenF32(Launch l) {
        MemorySegment out = l.p(0), w = l.p(1), scales = l.pOrNull(2);
        int format = l.i(3);
        long n = l.l(4);
        for (long i = 0; i < n; i++) {
            float x = switch (format) {
                case 0 -> f(w, i);
                case 1 -> half(w.getAtIndex(F16, i));
                case 2 -> bf16(w.getAtIndex(F16, i));
                case 3 -> q8_0(w, scales, i);
                case 4 -> q4_0(w, scales, i);
                case 5 -> q4_k(w, i);
                case 6 -> q6_k(w, scales, i);
                case 7 -> q5_k(w, i);
                case 8 -> q5_0(w, scales, i);
                case 9 -> q4_1(w, scales, i);
                default -> q5_1(w, scales, i);
            };
            f(out, i, x);
        }
    }

    /** dst[dstOffsets[b] + i] = (accumulate ? dst[..] : 0) + src[srcOffsets[b] + i] for slices b < gridDim.x, i < width. */
    static void slices(Launch l) {
        MemorySegment dst = l.p(0), dstOffsets = l.p(1), src = l.p(2), srcOffsets = l.p(3);
        int width = l.i(4);
        boolean accumulate = l.i(5) != 0;
        for (int b = 0; b < l.gridX(); b++) {
            long d = dstOffsets.getAtIndex(U64, b), s = srcOffsets.getAtIndex(U64, b);
            for (int i = 0; i < width; i++) f(dst, d + i, accumulate ? f(dst, d + i) + f(src, s + i) : f(src, s + i));
        }
    }

    /** out[c] += sum over r < rows of y[r][c], for c < width (rows summed in order). */
    static void columnSums(Launch l) {
        MemorySegment out = l.p(0), y = l.p(1);
        int rows = l.i(2), width = l.i(3);
        IntStream.range(0, width).parallel().forEach(c -> {
            float s = 0;
            for (int r = 0; r < rows; r++) s += f(y, (long) r * width + c);
            f(out, c, f(out, c) + s);
        });
    }

    // ---------------------------------------------------------------- training: softmax losses over the vocabulary

    /**
     * The max-subtracted softmax of row r of logits ([gridDim.x][vocab] floats), in double: {M, S, T} with M the
     * row's max, S = sum_i e^(z_i - M) and T = sum_i e^(z_i - M) (z_i - M), where a -inf logit adds nothing to T (as
     * in the kernel, whose term would be 0 * -inf).
     */
    private static double[] softmaxStats(MemorySegment logits, long base, int vocab) {
        double max = Double.NEGATIVE_INFINITY, s = 0, t = 0;
        for (int i = 0; i < vocab; i++) max = Math.max(max, f(logits, base + i));
        for (int i = 0; i < vocab; i++) {
            double z = f(logits, base + i);
            if (z == Double.NEGATIVE_INFINITY) continue;
            double d = z - max, e = Math.exp(d);
            s += e;
            t += e * d;
        }
        return new double[]{max, s, t};
    }

    /** out[r] = log softmax(logits[r])[targets[r]] = z_t - M - log S for gridDim.x rows; NaN for a target outside [0, vocab). */
    static void logProbs(Launch l) {
        MemorySegment out = l.p(0), logits = l.p(1), targets = l.p(2);
        int vocab = l.i(3);
        IntStream.range(0, l.gridX()).parallel().forEach(r -> {
            long base = (long) r * vocab;
            double[] st = softmaxStats(logits, base, vocab);
            int t = targets.getAtIndex(I32, r);
            f(out, r, t >= 0 && t < vocab ? (float) (f(logits, base + t) - st[0] - Math.log(st[1])) : Float.NaN);
        });
    }

    /**
     * dLogits[r][i] += coef[r] * (delta(i == targets[r]) - p_r[i]), p_r = softmax(logits[r]), for gridDim.x rows; a row
     * whose coef is 0 is skipped (left untouched), a target outside [0, vocab) adds NaN to its whole row.
     */
    static void logProbGrad(Launch l) {
        MemorySegment dLogits = l.p(0), logits = l.p(1), targets = l.p(2), coef = l.p(3);
        int vocab = l.i(4);
        IntStream.range(0, l.gridX()).parallel().forEach(r -> {
            float c = f(coef, r);
            if (c == 0) return;
            long base = (long) r * vocab;
            double[] st = softmaxStats(logits, base, vocab);
            int t = targets.getAtIndex(I32, r);
            boolean valid = t >= 0 && t < vocab;
            for (int i = 0; i < vocab; i++) {
                double p = Math.exp(f(logits, base + i) - st[0]) / st[1];
                double g = valid ? c * ((i == t ? 1 : 0) - p) : Double.NaN;
                f(dLogits, base + i, (float) (f(dLogits, base + i) + g));
            }
        });
    }

    /**
     * out[r] = H_r = -sum_i p_i log p_i = log S - T / S for gridDim.x rows; when dLogits is not 0 and coef[r] is not 0,
     * dLogits[r][i] += coef[r] * (-p_i (log p_i + H_r)) = coef[r] * (-p_i ((z_i - M) - T / S)) for the i with p_i != 0
     * (coef is read only when dLogits is given).
     */
    static void entropyRows(Launch l) {
        MemorySegment out = l.p(0), dLogits = l.pOrNull(1), logits = l.p(2), coef = dLogits == null ? null : l.p(3);
        int vocab = l.i(4);
        IntStream.range(0, l.gridX()).parallel().forEach(r -> {
            long base = (long) r * vocab;
            double[] st = softmaxStats(logits, base, vocab);
            double mean = st[2] / st[1];
            f(out, r, (float) (Math.log(st[1]) - mean));
            if (dLogits == null) return;
            float c = f(coef, r);
            if (c == 0) return;
            for (int i = 0; i < vocab; i++) {
                double d = f(logits, base + i) - st[0], p = Math.exp(d) / st[1];
                if (p != 0) f(dLogits, base + i, (float) (f(dLogits, base + i) + c * (-p * (d - mean))));
            }
        });
    }

    private ReferenceKernels() {}
}
