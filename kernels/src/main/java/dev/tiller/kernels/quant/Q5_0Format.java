package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I32_LE;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/**
 * ggml block_q5_0: {@code f16 d; u8 qh[4]; u8 qs[16]}; 4 low bits as in Q4_0, the 5th bit of element i in bit i
 * of qh; value = (q - 16) * d.
 */
final class Q5_0Format implements QuantFormat {
    static final int BLOCK = 32, BYTES = 22;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_0;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo);
            int qh = src.get(I32_LE, bo + 2);
            ByteVector q = Simd.load16(src, bo + 6);
            ByteVector lo = q.and((byte) 0x0F);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
            int yo = dstOffset + b * BLOCK;
            for (int p = 0; p < PARTS; p++) {
                FifthBits.values(lo, p, qh, p * L, 16).mul(d).intoArray(dst, yo + p * L);
                FifthBits.values(hi, p, qh, 16 + p * L, 16).mul(d).intoArray(dst, yo + 16 + p * L);
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
        // In int lanes: lane i of part p holds byte i (element i's low nibble, element i + 16's high nibble), and
        // one variable shift of the broadcast qh by the lane's element index brings bit i to bit 0 and bit i + 16
        // to bit 16, so both fifth bits come from it. The "- 16" leaves the lanes: d sum (q - 16) x =
        // d sum q x - 16 d sum x, with sum x given per block.
        FloatVector acc = FloatVector.zero(F);
        float offsets = 0;
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo);
            IntVector qh = IntVector.broadcast(Simd.I, src.get(I32_LE, bo + 2));
            ByteVector q = Simd.load16(src, bo + 6);
            int xo = xOffset + b * BLOCK;
            FloatVector s = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                IntVector iq = Simd.widenUnsigned(q, p);
                IntVector h = qh.lanewise(VectorOperators.LSHR, LANE_INDEX.add(p * L));
                IntVector lo = iq.and(0x0F).or(h.lanewise(VectorOperators.LSHL, 4).and(0x10));
                IntVector hi = iq.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 12).and(0x10));
                s = ((FloatVector) lo.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + p * L), s);
                s = ((FloatVector) hi.convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), s);
            }
            acc = s.fma(FloatVector.broadcast(F, d), acc);
            offsets += d * sums[b];
        }
        return acc.reduceLanes(VectorOperators.ADD) - 16 * offsets;
    }

    /** 0, 1, ..., L-1: each lane's element index within its part. */
    private static final IntVector LANE_INDEX = IntVector.zero(Simd.I).addIndex(1);
}
