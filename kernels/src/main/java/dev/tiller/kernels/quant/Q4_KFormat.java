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
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        // Per sub-block: sum((d1*q - m1) * x) = d1 * sum(q*x) - m1 * sum(x).
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * BYTES;
            float d = Simd.half(src, bo), dmin = Simd.half(src, bo + 2);
            for (int g = 0; g < 4; g++) {
                int xo = xOffset + b * BLOCK + 64 * g;
                FloatVector qx1 = FloatVector.zero(F), sx1 = FloatVector.zero(F);
                FloatVector qx2 = FloatVector.zero(F), sx2 = FloatVector.zero(F);
                for (int c = 0; c < 2; c++) {
                    ByteVector q = Simd.load16(src, bo + QS + 32 * g + 16 * c);
                    ByteVector lo = q.and((byte) 0x0F);
                    ByteVector hi = q.lanewise(VectorOperators.LSHR, 4);
                    for (int p = 0; p < PARTS; p++) {
                        FloatVector x1 = FloatVector.fromArray(F, x, xo + 16 * c + p * L);
                        FloatVector x2 = FloatVector.fromArray(F, x, xo + 32 + 16 * c + p * L);
                        qx1 = Simd.widen(lo, p).fma(x1, qx1);
                        sx1 = sx1.add(x1);
                        qx2 = Simd.widen(hi, p).fma(x2, qx2);
                        sx2 = sx2.add(x2);
                    }
                }
                float d1 = d * KScales.scale(src, bo + SCALES, 2 * g), m1 = dmin * KScales.min(src, bo + SCALES, 2 * g);
                float d2 = d * KScales.scale(src, bo + SCALES, 2 * g + 1), m2 = dmin * KScales.min(src, bo + SCALES, 2 * g + 1);
                acc = qx1.fma(FloatVector.broadcast(F, d1), acc);
                acc = sx1.fma(FloatVector.broadcast(F, -m1), acc);
                acc = qx2.fma(FloatVector.broadcast(F, d2), acc);
                acc = sx2.fma(FloatVector.broadcast(F, -m2), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
