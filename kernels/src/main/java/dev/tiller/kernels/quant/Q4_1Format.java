package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/** ggml block_q4_1: {@code f16 d; f16 m; u8 qs[16]}, nibbles as in Q4_0; value = nibble * d + m. */
final class Q4_1Format implements QuantFormat {
    static final int BLOCK = 32, BYTES = 20;

    @Override
    public GGMLType type() {
        return GGMLType.Q4_1;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo), m = Simd.half(src, bo + 2);
            ByteVector q = Simd.load16(src, bo + 4);
            ByteVector lo = q.and((byte) 0x0F);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
            int yo = dstOffset + b * BLOCK;
            for (int p = 0; p < PARTS; p++) {
                Simd.widen(lo, p).mul(d).add(m).intoArray(dst, yo + p * L);
                Simd.widen(hi, p).mul(d).add(m).intoArray(dst, yo + 16 + p * L);
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        // sum((q*d + m) * x) = d * sum(q*x) + m * sum(x)
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            int xo = xOffset + b * BLOCK;
            ByteVector q = Simd.load16(src, bo + 4);
            ByteVector lo = q.and((byte) 0x0F);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
            FloatVector qx = FloatVector.zero(F), sx = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                FloatVector x0 = FloatVector.fromArray(F, x, xo + p * L);
                FloatVector x1 = FloatVector.fromArray(F, x, xo + 16 + p * L);
                qx = Simd.widen(lo, p).fma(x0, qx);
                qx = Simd.widen(hi, p).fma(x1, qx);
                sx = sx.add(x0).add(x1);
            }
            acc = qx.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc);
            acc = sx.fma(FloatVector.broadcast(F, Simd.half(src, bo + 2)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
