package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.PARTS;

/** ggml block_q8_0: {@code f16 d; int8 qs[32]}, value = qs[j] * d. */
final class Q8_0Format implements QuantFormat {
    static final int BLOCK = 32, BYTES = 34;

    @Override
    public GGMLType type() {
        return GGMLType.Q8_0;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo);
            int yo = dstOffset + b * BLOCK;
            for (int half = 0; half < 2; half++) {
                ByteVector q = Simd.load16(src, bo + 2 + 16 * half);
                for (int p = 0; p < PARTS; p++) Simd.widen(q, p).mul(d).intoArray(dst, yo + 16 * half + p * L);
            }
        }
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            int xo = xOffset + b * BLOCK;
            ByteVector q0 = Simd.load16(src, bo + 2);
            ByteVector q1 = Simd.load16(src, bo + 18);
            FloatVector s = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                s = Simd.widen(q0, p).fma(FloatVector.fromArray(F, x, xo + p * L), s);
                s = Simd.widen(q1, p).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), s);
            }
            acc = s.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
