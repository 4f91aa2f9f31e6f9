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
 * ggml block_q4_K (256 elements, 144 bytes): {@code f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}. Each 64-element
 * group g uses 32 bytes of qs: low nibbles are sub-block 2g, high nibbles sub-block 2g+1; value =
 * d*scale(j) * q - dmin*min(j).
 */
final class Q4_KFormat implements QuantFormat {
    static final int BLOCK = 256, BYTES = 144;
    private static final int SCALES = 4, QS = 16;

    @Override
    public GGMLType type() {
        return GGMLType.Q4_K;
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
                    ByteVector lo = q.and((byte) 0x0F);
                    ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
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
        // Per sub-block j: sum((d sc_j q - dmin m_j) x) = d sc_j sum(q x) - dmin m_j sum(x), with sum(x) given. The
        // sixteen scale factors of a super-block (dmin m_0..7, then d sc_0..7) are made in one vector: the twelve
        // scale bytes are unpacked four at a time in scalar code (SWAR), placed in one 16-byte vector, converted and
        // multiplied once, and stored to a per-thread scratch; each group then broadcasts its two scales from there
        // (a vbroadcastss from memory runs on a load port). Done in scalar code, the conversions and multiplies per
        // scale ran on the same vector units as the dot product and cost a third of its time; taken by a lane permute
        // (vpermps) instead of a load, 0.91x. The mins' term is one masked FMA per super-block against x's block sums.
        float[] f = KScales.scratch();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F), minsAcc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            MemorySegment blk = src.asSlice(byteOffset + (long) b * BYTES, BYTES);
            float d = Simd.half(blk, 0), dmin = Simd.half(blk, 2);
            int w0 = blk.get(Simd.I32_LE, SCALES), w1 = blk.get(Simd.I32_LE, SCALES + 4), w2 = blk.get(Simd.I32_LE, SCALES + 8);
            FloatVector factors = KScales.factors(w0, w1, w2, d, dmin);
            factors.intoArray(f, 0);
            // lanes 8-15 of the masked load are zero, so only the mins reach minsAcc
            minsAcc = factors.fma(FloatVector.fromArray(F, sums, 8 * b, KScales.MINS), minsAcc);
            for (int g = 0; g < 4; g++) {
                int xo = xOffset + b * BLOCK + 64 * g;
                ByteVector q0 = Simd.load16(blk, QS + 32 * g), q1 = Simd.load16(blk, QS + 32 * g + 16);
                IntVector i0 = Simd.widenUnsigned(q0, 0), i1 = Simd.widenUnsigned(q1, 0);
                FloatVector qx1 = ((FloatVector) i0.and(0x0F).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xo));
                qx1 = ((FloatVector) i1.and(0x0F).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 16), qx1);
                FloatVector qx2 = ((FloatVector) i0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xo + 32));
                qx2 = ((FloatVector) i1.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 48), qx2);
                acc0 = qx1.fma(FloatVector.broadcast(F, f[8 + 2 * g]), acc0);
                acc1 = qx2.fma(FloatVector.broadcast(F, f[9 + 2 * g]), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - minsAcc.reduceLanes(VectorOperators.ADD);
    }

    /** The same with the scales decoded in scalar code, for float vectors of other than 16 lanes. */
    static float dotScalarScales(MemorySegment src, long byteOffset, float[] x, int xOffset, float[] sums, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float mins = 0;
        for (int b = 0; b < n / BLOCK; b++) {
            MemorySegment blk = src.asSlice(byteOffset + (long) b * BYTES, BYTES);
            long bo = 0;
            float d = Simd.half(blk, bo), dmin = Simd.half(blk, bo + 2);
            int w0 = blk.get(Simd.I32_LE, bo + SCALES), w1 = blk.get(Simd.I32_LE, bo + SCALES + 4), w2 = blk.get(Simd.I32_LE, bo + SCALES + 8);
            int sc03 = KScales.scales03(w0), sc47 = KScales.scales47(w0, w2);
            mins += dmin * KScales.minsDot(w1, w2, sums, 8 * b);
            for (int g = 0; g < 4; g++) {
                int xo = xOffset + b * BLOCK + 64 * g;
                ByteVector q0 = Simd.load16(blk, bo + QS + 32 * g), q1 = Simd.load16(blk, bo + QS + 32 * g + 16);
                FloatVector qx1 = FloatVector.zero(F), qx2 = FloatVector.zero(F);
                for (int p = 0; p < PARTS; p++) {
                    IntVector i0 = Simd.widenUnsigned(q0, p), i1 = Simd.widenUnsigned(q1, p);
                    qx1 = ((FloatVector) i0.and(0x0F).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + p * L), qx1);
                    qx1 = ((FloatVector) i1.and(0x0F).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), qx1);
                    qx2 = ((FloatVector) i0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 32 + p * L), qx2);
                    qx2 = ((FloatVector) i1.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 48 + p * L), qx2);
                }
                int sc = (g < 2 ? sc03 : sc47) >>> (16 * (g & 1));
                acc0 = qx1.fma(FloatVector.broadcast(F, d * (sc & 0xFF)), acc0);
                acc1 = qx2.fma(FloatVector.broadcast(F, d * ((sc >>> 8) & 0xFF)), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - mins;
    }
}
