package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/**
 * ggml block_q4_0: {@code f16 d; u8 qs[16]}. Byte j holds element j in its low nibble and element j+16 in its
 * high nibble; value = (nibble - 8) * d.
 */
final class Q4_0Format implements QuantFormat {
    static final int BLOCK = 32, BYTES = 18;

    @Override
    public GGMLType type() {
        return GGMLType.Q4_0;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo);
            ByteVector q = Simd.load16(src, bo + 2);
            ByteVector lo = q.and((byte) 0x0F).sub((byte) 8);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
            int yo = dstOffset + b * BLOCK;
            for (int p = 0; p < PARTS; p++) {
                Simd.widen(lo, p).mul(d).intoArray(dst, yo + p * L);
                Simd.widen(hi, p).mul(d).intoArray(dst, yo + 16 + p * L);
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            int xo = xOffset + b * BLOCK;
            ByteVector q = Simd.load16(src, bo + 2);
            ByteVector lo = q.and((byte) 0x0F).sub((byte) 8);
            ByteVector hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
            FloatVector s = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                s = Simd.widen(lo, p).fma(FloatVector.fromArray(F, x, xo + p * L), s);
                s = Simd.widen(hi, p).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
