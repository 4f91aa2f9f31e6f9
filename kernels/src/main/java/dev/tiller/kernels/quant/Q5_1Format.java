package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I32_LE;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/** ggml block_q5_1: {@code f16 d; f16 m; u8 qh[4]; u8 qs[16]}; bits as in Q5_0; value = q * d + m. */
final class Q5_1Format implements QuantFormat {
    static final int BLOCK = 32, BYTES = 24;

    @Override
    public GGMLType type() {
        return GGMLType.Q5_1;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo), m = Simd.half(src, bo + 2);
            int qh = src.get(I32_LE, bo + 4);
            ByteVector q = Simd.load16(src, bo + 8);
            ByteVector lo = q.and((byte) 0x0F);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
            int yo = dstOffset + b * BLOCK;
            for (int p = 0; p < PARTS; p++) {
                FifthBits.values(lo, p, qh, p * L, 0).mul(d).add(m).intoArray(dst, yo + p * L);
                FifthBits.values(hi, p, qh, 16 + p * L, 0).mul(d).add(m).intoArray(dst, yo + 16 + p * L);
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            int qh = src.get(I32_LE, bo + 4);
            ByteVector q = Simd.load16(src, bo + 8);
            ByteVector lo = q.and((byte) 0x0F);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
            int xo = xOffset + b * BLOCK;
            FloatVector qx = FloatVector.zero(F), sx = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                FloatVector x0 = FloatVector.fromArray(F, x, xo + p * L);
                FloatVector x1 = FloatVector.fromArray(F, x, xo + 16 + p * L);
                qx = FifthBits.values(lo, p, qh, p * L, 0).fma(x0, qx);
                qx = FifthBits.values(hi, p, qh, 16 + p * L, 0).fma(x1, qx);
                sx = sx.add(x0).add(x1);
            }
            acc = qx.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc);
            acc = sx.fma(FloatVector.broadcast(F, Simd.half(src, bo + 2)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
