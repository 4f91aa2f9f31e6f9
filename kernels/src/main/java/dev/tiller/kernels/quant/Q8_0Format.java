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
        // Two blocks per step into two accumulators (the per-block scale FMA is a loop-carried chain otherwise),
        // written out in one method: a vector returned from a helper that is not inlined gets boxed.
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int blocks = n / BLOCK, b = 0;
        for (; b + 2 <= blocks; b += 2) {
            long bo = byteOffset + (long) b * BYTES;
            int xo = xOffset + b * BLOCK;
            ByteVector a0 = Simd.load16(src, bo + 2), a1 = Simd.load16(src, bo + 18);
            ByteVector b0 = Simd.load16(src, bo + BYTES + 2), b1 = Simd.load16(src, bo + BYTES + 18);
            FloatVector sa = FloatVector.zero(F), sb = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                sa = Simd.widen(a0, p).fma(FloatVector.fromArray(F, x, xo + p * L), sa);
                sa = Simd.widen(a1, p).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), sa);
                sb = Simd.widen(b0, p).fma(FloatVector.fromArray(F, x, xo + BLOCK + p * L), sb);
                sb = Simd.widen(b1, p).fma(FloatVector.fromArray(F, x, xo + BLOCK + 16 + p * L), sb);
            }
            acc0 = sa.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc0);
            acc1 = sb.fma(FloatVector.broadcast(F, Simd.half(src, bo + BYTES)), acc1);
        }
        if (b < blocks) {
            long bo = byteOffset + (long) b * BYTES;
            int xo = xOffset + b * BLOCK;
            ByteVector a0 = Simd.load16(src, bo + 2), a1 = Simd.load16(src, bo + 18);
            FloatVector sa = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                sa = Simd.widen(a0, p).fma(FloatVector.fromArray(F, x, xo + p * L), sa);
                sa = Simd.widen(a1, p).fma(FloatVector.fromArray(F, x, xo + 16 + p * L), sa);
            }
            acc0 = sa.fma(FloatVector.broadcast(F, Simd.half(src, bo)), acc0);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }
}
