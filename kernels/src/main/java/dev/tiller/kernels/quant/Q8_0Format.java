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

    @Override
    public boolean hasFourRowKernel() {
        return true;
    }

    /** Q8_0 has no offset term: {@code sums} is not read. */
    @Override
    public void dot4(MemorySegment src, long o0, long o1, long o2, long o3, float[] x, int xOffset, float[] sums, int n,
                     float[] y, int y0, int y1, int y2, int y3) {
        // One block of each row per step: four independent chains, and four memory streams in flight.
        FloatVector c0 = FloatVector.zero(F), c1 = FloatVector.zero(F), c2 = FloatVector.zero(F), c3 = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bb = (long) b * BYTES;
            long b0 = o0 + bb, b1 = o1 + bb, b2 = o2 + bb, b3 = o3 + bb;
            ByteVector q00 = Simd.load16(src, b0 + 2), q01 = Simd.load16(src, b0 + 18);
            ByteVector q10 = Simd.load16(src, b1 + 2), q11 = Simd.load16(src, b1 + 18);
            ByteVector q20 = Simd.load16(src, b2 + 2), q21 = Simd.load16(src, b2 + 18);
            ByteVector q30 = Simd.load16(src, b3 + 2), q31 = Simd.load16(src, b3 + 18);
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), s2 = FloatVector.zero(F), s3 = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                int xo = xOffset + b * BLOCK + p * L;
                FloatVector xa = FloatVector.fromArray(F, x, xo), xb = FloatVector.fromArray(F, x, xo + 16);
                s0 = Simd.widen(q01, p).fma(xb, Simd.widen(q00, p).fma(xa, s0));
                s1 = Simd.widen(q11, p).fma(xb, Simd.widen(q10, p).fma(xa, s1));
                s2 = Simd.widen(q21, p).fma(xb, Simd.widen(q20, p).fma(xa, s2));
                s3 = Simd.widen(q31, p).fma(xb, Simd.widen(q30, p).fma(xa, s3));
            }
            c0 = s0.fma(FloatVector.broadcast(F, Simd.half(src, b0)), c0);
            c1 = s1.fma(FloatVector.broadcast(F, Simd.half(src, b1)), c1);
            c2 = s2.fma(FloatVector.broadcast(F, Simd.half(src, b2)), c2);
            c3 = s3.fma(FloatVector.broadcast(F, Simd.half(src, b3)), c3);
        }
        y[y0] = c0.reduceLanes(VectorOperators.ADD);
        y[y1] = c1.reduceLanes(VectorOperators.ADD);
        y[y2] = c2.reduceLanes(VectorOperators.ADD);
        y[y3] = c3.reduceLanes(VectorOperators.ADD);
    }
}
