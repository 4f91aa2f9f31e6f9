package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/**
 * ggml block_q5_K (256 elements, 176 bytes): {@code f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}.
 * Like Q4_K, plus a 5th bit: for 64-element group g, element l of sub-block 2g takes bit 2g of qh[l] and
 * element l of sub-block 2g+1 takes bit 2g+1.
 */
final class Q5_KFormat implements QuantFormat {
    static final int BLOCK = 256, BYTES = 176;
    private static final int SCALES = 4, QH = 16, QS = 48;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_K;
    }

    private static ByteVector low(ByteVector q, ByteVector qh, int g) {
        return q.and((byte) 0x0F).or(qh.lanewise(VectorOperators.LSHR, 2 * g).and((byte) 1).lanewise(VectorOperators.LSHL, 4));
    }

    private static ByteVector high(ByteVector q, ByteVector qh, int g) {
        return q.lanewise(VectorOperators.LSHR, 4).or(qh.lanewise(VectorOperators.LSHR, 2 * g + 1).and((byte) 1).lanewise(VectorOperators.LSHL, 4));
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo), dmin = Simd.half(src, bo + 2);
            for (int g = 0; g < 4; g++) {
                float d1 = d * KScales.scale(src, bo + SCALES, 2 * g), m1 = dmin * KScales.min(src, bo + SCALES, 2 * g);
                float d2 = d * KScales.scale(src, bo + SCALES, 2 * g + 1), m2 = dmin * KScales.min(src, bo + SCALES, 2 * g + 1);
                int yo = dstOffset + b * BLOCK + 64 * g;
                for (int c = 0; c < 2; c++) {
                    ByteVector q = Simd.load16(src, bo + QS + 32 * g + 16 * c);
                    ByteVector qh = Simd.load16(src, bo + QH + 16 * c);
                    ByteVector lo = low(q, qh, g), hi = high(q, qh, g);
                    for (int p = 0; p < PARTS; p++) {
                        Simd.widen(lo, p).mul(d1).sub(m1).intoArray(dst, yo + 16 * c + p * L);
                        Simd.widen(hi, p).mul(d2).sub(m2).intoArray(dst, yo + 32 + 16 * c + p * L);
                    }
                }
            }
        }
    }

    @Override
    public boolean usesBlockSums() {
        return true;
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        return dot(src, byteOffset, x, xOffset, BlockSums.of(x, xOffset, n), n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, float[] sums, int n) {
        if (L != 16) return dotScalarScales(src, byteOffset, x, xOffset, sums, n);
        // As Q4_K's dot (sum(x) per sub-block given, the super-block's scale factors one vector, nibbles split in int
        // lanes, each group's two scales broadcast from the factors stored to a scratch), plus the 5th bits: the 32 qh
        // bytes are widened once per super-block, and group g takes bits 2g, 2g+1.
        float[] f = KScales.scratch();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F), minsAcc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            MemorySegment blk = src.asSlice(byteOffset + (long) b * BYTES, BYTES);
            float d = Simd.half(blk, 0), dmin = Simd.half(blk, 2);
            int w0 = blk.get(Simd.I32_LE, SCALES), w1 = blk.get(Simd.I32_LE, SCALES + 4), w2 = blk.get(Simd.I32_LE, SCALES + 8);
            FloatVector factors = KScales.factors(w0, w1, w2, d, dmin);
            factors.intoArray(f, 0);
            minsAcc = factors.fma(FloatVector.fromArray(F, sums, 8 * b, KScales.MINS), minsAcc);   // lanes 8-15 load as zero
            IntVector h0 = Simd.widenUnsigned(Simd.load16(blk, QH), 0), h1 = Simd.widenUnsigned(Simd.load16(blk, QH + 16), 0);
            for (int g = 0; g < 4; g++) {
                int xo = xOffset + b * BLOCK + 64 * g;
                ByteVector q0 = Simd.load16(blk, QS + 32 * g), q1 = Simd.load16(blk, QS + 32 * g + 16);
                IntVector i0 = Simd.widenUnsigned(q0, 0), i1 = Simd.widenUnsigned(q1, 0);
                IntVector e0 = h0.lanewise(VectorOperators.LSHR, 2 * g), e1 = h1.lanewise(VectorOperators.LSHR, 2 * g);
                IntVector lo0 = i0.and(0x0F).or(e0.and(1).lanewise(VectorOperators.LSHL, 4));
                IntVector lo1 = i1.and(0x0F).or(e1.and(1).lanewise(VectorOperators.LSHL, 4));
                IntVector hi0 = i0.lanewise(VectorOperators.LSHR, 4).or(e0.and(2).lanewise(VectorOperators.LSHL, 3));
                IntVector hi1 = i1.lanewise(VectorOperators.LSHR, 4).or(e1.and(2).lanewise(VectorOperators.LSHL, 3));
                FloatVector qx1 = ((FloatVector) lo0.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xo));
                qx1 = ((FloatVector) lo1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), qx1);
                FloatVector qx2 = ((FloatVector) hi0.convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xo + 32));
                qx2 = ((FloatVector) hi1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 48), qx2);
                acc0 = qx1.fma(FloatVector.broadcast(F, f[8 + 2 * g]), acc0);
                acc1 = qx2.fma(FloatVector.broadcast(F, f[9 + 2 * g]), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - minsAcc.reduceLanes(VectorOperators.ADD);
    }

    /** The same with the scales decoded in scalar code, for float vectors of other than 16 lanes. */
    static float dotScalarScales(MemorySegment src, long byteOffset, float[] x, int xOffset, float[] sums, int n) {
        // As Q4_K's dot (sum(x) per sub-block given, scales read once per super-block, nibbles split in int lanes),
        // plus the 5th bits: the 32 qh bytes are widened once per super-block, and group g takes bits 2g and 2g+1.
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo), dmin = Simd.half(src, bo + 2);
            int w0 = src.get(Simd.I32_LE, bo + SCALES), w1 = src.get(Simd.I32_LE, bo + SCALES + 4), w2 = src.get(Simd.I32_LE, bo + SCALES + 8);
            int sc03 = KScales.scales03(w0), sc47 = KScales.scales47(w0, w2);
            mins += dmin * KScales.minsDot(w1, w2, sums, 8 * b);
            ByteVector h0 = Simd.load16(src, bo + QH), h1 = Simd.load16(src, bo + QH + 16);
            for (int g = 0; g < 4; g++) {
                int xo = xOffset + b * BLOCK + 64 * g;
                ByteVector q0 = Simd.load16(src, bo + QS + 32 * g), q1 = Simd.load16(src, bo + QS + 32 * g + 16);
                FloatVector qx1 = FloatVector.zero(F), qx2 = FloatVector.zero(F);
                for (int p = 0; p < PARTS; p++) {
                    IntVector i0 = Simd.widenUnsigned(q0, p), i1 = Simd.widenUnsigned(q1, p);
                    IntVector e0 = Simd.widenUnsigned(h0, p).lanewise(VectorOperators.LSHR, 2 * g);
                    IntVector e1 = Simd.widenUnsigned(h1, p).lanewise(VectorOperators.LSHR, 2 * g);
                    IntVector lo0 = i0.and(0x0F).or(e0.and(1).lanewise(VectorOperators.LSHL, 4));
                    IntVector lo1 = i1.and(0x0F).or(e1.and(1).lanewise(VectorOperators.LSHL, 4));
                    IntVector hi0 = i0.lanewise(VectorOperators.LSHR, 4).or(e0.and(2).lanewise(VectorOperators.LSHL, 3));
                    IntVector hi1 = i1.lanewise(VectorOperators.LSHR, 4).or(e1.and(2).lanewise(VectorOperators.LSHL, 3));
                    qx1 = ((FloatVector) lo0.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + p * L), qx1);
                    qx1 = ((FloatVector) lo1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), qx1);
                    qx2 = ((FloatVector) hi0.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 32 + p * L), qx2);
                    qx2 = ((FloatVector) hi1.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 48 + p * L), qx2);
                }
                int sc = (g < 2 ? sc03 : sc47) >>> (16 * (g & 1));
                acc0 = qx1.fma(FloatVector.broadcast(F, d * (sc & 0xFF)), acc0);
                acc1 = qx2.fma(FloatVector.broadcast(F, d * ((sc >>> 8) & 0xFF)), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - mins;
    }
}
