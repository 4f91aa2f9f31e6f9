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
    public boolean usesBlockSums() {
        return true;
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        return dot(src, byteOffset, x, xOffset, BlockSums.of(x, xOffset, n), n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, float[] sums, int n) {
        // Two blocks per step into two accumulators (the per-block scale FMA is a loop-carried chain otherwise).
        // Each byte holds element j (low nibble) and j + 16 (high): the bytes are zero-extended to int lanes once
        // and split there (x86 has no byte shift: a ByteVector shift costs three ops). The "- 8" leaves the lanes:
        // sum d (q - 8) x = d sum q x - 8 d sum x, with sum x given per block, so the second term is one scalar FMA
        // per block. Written out in one method: a vector returned from a helper that is not inlined gets boxed.
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float offsets = 0;
        int blocks = n / BLOCK, b = 0;
        for (; b + 2 <= blocks; b += 2) {
            long bo = byteOffset + (long) b * BYTES;
            ByteVector qa = Simd.load16(src, bo + 2), qb = Simd.load16(src, bo + BYTES + 2);
            float da = Simd.half(src, bo), db = Simd.half(src, bo + BYTES);
            FloatVector sa = FloatVector.zero(F), sb = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                int xo = xOffset + b * BLOCK + p * L;
                IntVector ia = Simd.widenUnsigned(qa, p), ib = Simd.widenUnsigned(qb, p);
                sa = low(ia).fma(FloatVector.fromArray(F, x, xo), sa);
                sa = high(ia).fma(FloatVector.fromArray(F, x, xo + 16), sa);
                sb = low(ib).fma(FloatVector.fromArray(F, x, xo + BLOCK), sb);
                sb = high(ib).fma(FloatVector.fromArray(F, x, xo + BLOCK + 16), sb);
            }
            acc0 = sa.fma(FloatVector.broadcast(F, da), acc0);
            acc1 = sb.fma(FloatVector.broadcast(F, db), acc1);
            offsets += da * sums[b] + db * sums[b + 1];
        }
        if (b < blocks) {
            long bo = byteOffset + (long) b * BYTES;
            ByteVector qa = Simd.load16(src, bo + 2);
            float da = Simd.half(src, bo);
            FloatVector sa = FloatVector.zero(F);
            for (int p = 0; p < PARTS; p++) {
                int xo = xOffset + b * BLOCK + p * L;
                IntVector ia = Simd.widenUnsigned(qa, p);
                sa = high(ia).fma(FloatVector.fromArray(F, x, xo + 16), low(ia).fma(FloatVector.fromArray(F, x, xo), sa));
            }
            acc0 = sa.fma(FloatVector.broadcast(F, da), acc0);
            offsets += da * sums[b];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - 8 * offsets;
    }

    // No four-row dot4 here: Q4_0 is bound by its arithmetic, not by misses in flight (four streams measured
    // 1.0x), and a four-row body this size exceeds C2's inlining budget (vector ops then run boxed: 0.25x).

    /** Low nibbles (elements j) of zero-extended bytes, as floats. */
    private static FloatVector low(IntVector q) {
        return (FloatVector) q.and(0x0F).convert(VectorOperators.I2F, 0);
    }

    /** High nibbles (elements j + 16). */
    private static FloatVector high(IntVector q) {
        return (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
    }
}
