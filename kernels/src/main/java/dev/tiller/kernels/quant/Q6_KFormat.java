package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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

    private static float scale(MemorySegment src, long bo, int i) {
        return src.get(ValueLayout.JAVA_BYTE, bo + SCALES + i);
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        // The same int-lane rebuild as dot, written out here for the same reason (no vectors across calls).
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo + D);
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 2; c++) { // l in [16c, 16c+16): scale index 8h + c (+0, 2, 4, 6)
                    ByteVector a = Simd.load16(src, bo + QL + 64 * h + 16 * c);
                    ByteVector a32 = Simd.load16(src, bo + QL + 64 * h + 32 + 16 * c);
                    ByteVector qhb = Simd.load16(src, bo + QH + 32 * h + 16 * c);
                    int is = 8 * h + c;
                    float s1 = d * scale(src, bo, is), s2 = d * scale(src, bo, is + 2);
                    float s3 = d * scale(src, bo, is + 4), s4 = d * scale(src, bo, is + 6);
                    int yo = dstOffset + b * BLOCK + 128 * h + 16 * c;
                    for (int p = 0; p < PARTS; p++) {
                        IntVector ia = Simd.widenUnsigned(a, p), ia32 = Simd.widenUnsigned(a32, p), qh = Simd.widenUnsigned(qhb, p);
                        IntVector q1 = ia.and(0x0F).or(qh.and(0x03).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        IntVector q2 = ia32.and(0x0F).or(qh.and(0x0C).lanewise(VectorOperators.LSHL, 2)).sub(32);
                        IntVector q3 = ia.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32);
                        IntVector q4 = ia32.lanewise(VectorOperators.LSHR, 4).or(qh.and(0xC0).lanewise(VectorOperators.LSHR, 2)).sub(32);
                        ((FloatVector) q1.convert(VectorOperators.I2F, 0)).mul(s1).intoArray(dst, yo + p * L);
                        ((FloatVector) q2.convert(VectorOperators.I2F, 0)).mul(s2).intoArray(dst, yo + 32 + p * L);
                        ((FloatVector) q3.convert(VectorOperators.I2F, 0)).mul(s3).intoArray(dst, yo + 64 + p * L);
                        ((FloatVector) q4.convert(VectorOperators.I2F, 0)).mul(s4).intoArray(dst, yo + 96 + p * L);
                    }
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        if (L != 16) return dotScalarScales(src, byteOffset, x, xOffset, n);
        // The 6-bit values are rebuilt in int lanes (one zero-extension per 16 bytes, then int ands and shifts:
        // x86 has no byte shifts, and the byte-lane version cost three ops per shift); each 16-element sub-block is
        // one scale, applied to the converted weights before the FMA, so no per-sub-block sums are kept. The sixteen
        // scales times d are one vector per super-block (one load, one conversion, one multiply), stored to a
        // per-thread scratch from which each sub-block broadcasts its own (a load-port op; a lane permute instead ran
        // on the vector units: 0.94x); converted and multiplied one by one in scalar code they ran there too. Everything is written out in this one method: a vector that crosses a call the JIT
        // does not inline is boxed on the heap (an earlier helper-based version allocated 9 MB per 2048 x 2048
        // product and ran at 0.4 GB/s).
        float[] f = KScales.scratch();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            ((FloatVector) Simd.load16(src, bo + SCALES).convertShape(VectorOperators.B2F, F, 0)).mul(Simd.half(src, bo + D)).intoArray(f, 0);
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 2; c++) { // l in [16c, 16c+16): scale index 8h + c (+0, 2, 4, 6)
                    ByteVector a = Simd.load16(src, bo + QL + 64 * h + 16 * c);
                    ByteVector a32 = Simd.load16(src, bo + QL + 64 * h + 32 + 16 * c);
                    ByteVector qhb = Simd.load16(src, bo + QH + 32 * h + 16 * c);
                    int is = 8 * h + c;
                    int xo = xOffset + b * BLOCK + 128 * h + 16 * c;
                    IntVector ia = Simd.widenUnsigned(a, 0), ia32 = Simd.widenUnsigned(a32, 0), qh = Simd.widenUnsigned(qhb, 0);
                    IntVector q1 = ia.and(0x0F).or(qh.and(0x03).lanewise(VectorOperators.LSHL, 4)).sub(32);
                    IntVector q2 = ia32.and(0x0F).or(qh.and(0x0C).lanewise(VectorOperators.LSHL, 2)).sub(32);
                    IntVector q3 = ia.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32);
                    IntVector q4 = ia32.lanewise(VectorOperators.LSHR, 4).or(qh.and(0xC0).lanewise(VectorOperators.LSHR, 2)).sub(32);
                    FloatVector w1 = ((FloatVector) q1.convert(VectorOperators.I2F, 0)).mul(FloatVector.broadcast(F, f[is]));
                    FloatVector w2 = ((FloatVector) q2.convert(VectorOperators.I2F, 0)).mul(FloatVector.broadcast(F, f[is + 2]));
                    FloatVector w3 = ((FloatVector) q3.convert(VectorOperators.I2F, 0)).mul(FloatVector.broadcast(F, f[is + 4]));
                    FloatVector w4 = ((FloatVector) q4.convert(VectorOperators.I2F, 0)).mul(FloatVector.broadcast(F, f[is + 6]));
                    acc0 = w1.fma(FloatVector.fromArray(F, x, xo), acc0);
                    acc1 = w2.fma(FloatVector.fromArray(F, x, xo + 32), acc1);
                    acc0 = w3.fma(FloatVector.fromArray(F, x, xo + 64), acc0);
                    acc1 = w4.fma(FloatVector.fromArray(F, x, xo + 96), acc1);
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** The same with each scale read and multiplied in scalar code, for float vectors of other than 16 lanes. */
    static float dotScalarScales(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo + D);
            for (int h = 0; h < 2; h++) {
                for (int c = 0; c < 2; c++) { // l in [16c, 16c+16): scale index 8h + c (+0, 2, 4, 6)
                    ByteVector a = Simd.load16(src, bo + QL + 64 * h + 16 * c);
                    ByteVector a32 = Simd.load16(src, bo + QL + 64 * h + 32 + 16 * c);
                    ByteVector qhb = Simd.load16(src, bo + QH + 32 * h + 16 * c);
                    int is = 8 * h + c;
                    FloatVector s1 = FloatVector.broadcast(F, d * scale(src, bo, is));
                    FloatVector s2 = FloatVector.broadcast(F, d * scale(src, bo, is + 2));
                    FloatVector s3 = FloatVector.broadcast(F, d * scale(src, bo, is + 4));
                    FloatVector s4 = FloatVector.broadcast(F, d * scale(src, bo, is + 6));
                    int xo = xOffset + b * BLOCK + 128 * h + 16 * c;
                    for (int p = 0; p < PARTS; p++) {
                        IntVector ia = Simd.widenUnsigned(a, p), ia32 = Simd.widenUnsigned(a32, p), qh = Simd.widenUnsigned(qhb, p);
                        IntVector q1 = ia.and(0x0F).or(qh.and(0x03).lanewise(VectorOperators.LSHL, 4)).sub(32);
                        IntVector q2 = ia32.and(0x0F).or(qh.and(0x0C).lanewise(VectorOperators.LSHL, 2)).sub(32);
                        IntVector q3 = ia.lanewise(VectorOperators.LSHR, 4).or(qh.and(0x30)).sub(32);
                        IntVector q4 = ia32.lanewise(VectorOperators.LSHR, 4).or(qh.and(0xC0).lanewise(VectorOperators.LSHR, 2)).sub(32);
                        FloatVector w1 = ((FloatVector) q1.convert(VectorOperators.I2F, 0)).mul(s1);
                        FloatVector w2 = ((FloatVector) q2.convert(VectorOperators.I2F, 0)).mul(s2);
                        FloatVector w3 = ((FloatVector) q3.convert(VectorOperators.I2F, 0)).mul(s3);
                        FloatVector w4 = ((FloatVector) q4.convert(VectorOperators.I2F, 0)).mul(s4);
                        acc0 = w1.fma(FloatVector.fromArray(F, x, xo + p * L), acc0);
                        acc1 = w2.fma(FloatVector.fromArray(F, x, xo + 32 + p * L), acc1);
                        acc0 = w3.fma(FloatVector.fromArray(F, x, xo + 64 + p * L), acc0);
                        acc1 = w4.fma(FloatVector.fromArray(F, x, xo + 96 + p * L), acc1);
                    }
                }
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }
}
