package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/**
 * ggml block_q6_K (256 elements, 210 bytes): {@code u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}. Each
 * 128-element half h uses ql[64h..64h+63], qh[32h..32h+31] and scales[8h..8h+7]; for l in 0..31 the four
 * elements l, l+32, l+64, l+96 are (ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high nibble) with 2 more bits
 * from qh[l] bits 0-1, 2-3, 4-5, 6-7; value = d * scales[16-element sub-block] * (q - 32).
 */
final class Q6_KFormat implements QuantFormat {
    static final int BLOCK = 256, BYTES = 210;
    private static final int QL = 0, QH = 128, SCALES = 192, D = 208;

    @Override
    public GGMLType type() {
        return GGMLType.Q6_K;
    }

    /** The 6-bit value minus 32 from a nibble source and the 2 bits of qh at {@code shift}. */
    private static ByteVector six(ByteVector nibbles, ByteVector qh, int shift) {
        return nibbles.or(qh.lanewise(VectorOperators.LSHR, shift).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
    }

    private static float scale(MemorySegment src, long bo, int i) {
        return src.get(ValueLayout.JAVA_BYTE, bo + SCALES + i);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo + D);
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 2; c++) { // l in [16c, 16c+16): scale index 8h + c (+0, 2, 4, 6)
                    ByteVector a = Simd.load16(src, bo + QL + 64 * h + 16 * c);
                    ByteVector a32 = Simd.load16(src, bo + QL + 64 * h + 32 + 16 * c);
                    ByteVector qh = Simd.load16(src, bo + QH + 32 * h + 16 * c);
                    ByteVector q1 = six(a.and((byte) 0x0F), qh, 0);
                    ByteVector q2 = six(a32.and((byte) 0x0F), qh, 2);
                    ByteVector q3 = six(a.lanewise(VectorOperators.LSHR, 4), qh, 4);
                    ByteVector q4 = six(a32.lanewise(VectorOperators.LSHR, 4), qh, 6);
                    int is = 8 * h + c;
                    float s1 = d * scale(src, bo, is), s2 = d * scale(src, bo, is + 2);
                    float s3 = d * scale(src, bo, is + 4), s4 = d * scale(src, bo, is + 6);
                    int yo = dstOffset + b * BLOCK + 128 * h + 16 * c;
                    for (int p = 0; p < PARTS; p++) {
                        Simd.widen(q1, p).mul(s1).intoArray(dst, yo + p * L);
                        Simd.widen(q2, p).mul(s2).intoArray(dst, yo + 32 + p * L);
                        Simd.widen(q3, p).mul(s3).intoArray(dst, yo + 64 + p * L);
                        Simd.widen(q4, p).mul(s4).intoArray(dst, yo + 96 + p * L);
                    }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        float sum = 0;
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo + D);
            int xb = xOffset + b * BLOCK;
            sum += chunkDot(src, bo, d, 0, 0, x, xb) + chunkDot(src, bo, d, 0, 1, x, xb)
                    + chunkDot(src, bo, d, 1, 0, x, xb) + chunkDot(src, bo, d, 1, 1, x, xb);
        }
        return sum;
    }

    /**
     * The dot product over the 64 elements l in [16c, 16c+16) (+0, +32, +64, +96) of half h. Too large for the
     * JIT to inline into its caller, so it takes and returns only scalars: a vector crossing a call that is not
     * inlined gets boxed on the heap, which makes the loop many times slower.
     */
    private static float chunkDot(MemorySegment src, long bo, float d, int h, int c, float[] x, int xb) {
        ByteVector a = Simd.load16(src, bo + QL + 64 * h + 16 * c);
        ByteVector a32 = Simd.load16(src, bo + QL + 64 * h + 32 + 16 * c);
        ByteVector qh = Simd.load16(src, bo + QH + 32 * h + 16 * c);
        ByteVector q1 = six(a.and((byte) 0x0F), qh, 0);
        ByteVector q2 = six(a32.and((byte) 0x0F), qh, 2);
        ByteVector q3 = six(a.lanewise(VectorOperators.LSHR, 4), qh, 4);
        ByteVector q4 = six(a32.lanewise(VectorOperators.LSHR, 4), qh, 6);
        int xo = xb + 128 * h + 16 * c;
        FloatVector s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F), s4 = FloatVector.zero(F);
        for (int p = 0; p < PARTS; p++) {
            s1 = Simd.widen(q1, p).fma(FloatVector.fromArray(F, x, xo + p * L), s1);
            s2 = Simd.widen(q2, p).fma(FloatVector.fromArray(F, x, xo + 32 + p * L), s2);
            s3 = Simd.widen(q3, p).fma(FloatVector.fromArray(F, x, xo + 64 + p * L), s3);
            s4 = Simd.widen(q4, p).fma(FloatVector.fromArray(F, x, xo + 96 + p * L), s4);
        }
        int is = 8 * h + c;
        FloatVector acc = s1.mul(d * scale(src, bo, is));
        acc = s2.fma(FloatVector.broadcast(F, d * scale(src, bo, is + 2)), acc);
        acc = s3.fma(FloatVector.broadcast(F, d * scale(src, bo, is + 4)), acc);
        acc = s4.fma(FloatVector.broadcast(F, d * scale(src, bo, is + 6)), acc);
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
