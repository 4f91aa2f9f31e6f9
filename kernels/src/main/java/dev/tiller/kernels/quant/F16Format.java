package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I16_LE;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.LE;
import static dev.tiller.kernels.quant.Simd.S;

/** IEEE half precision, little-endian. */
final class F16Format implements QuantFormat {

    @Override
    public GGMLType type() {
        return GGMLType.F16;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            Simd.halfToFloat(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * i, LE)).intoArray(dst, dstOffset + i);
        }
        for (; i < n; i++) dst[dstOffset + i] = Simd.half(src, byteOffset + 2L * i);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector w0 = Simd.halfToFloat(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * i, LE));
            FloatVector w1 = Simd.halfToFloat(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * (i + L), LE));
            acc0 = w0.fma(FloatVector.fromArray(F, x, xOffset + i), acc0);
            acc1 = w1.fma(FloatVector.fromArray(F, x, xOffset + i + L), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Float.float16ToFloat(src.get(I16_LE, byteOffset + 2L * i)) * x[xOffset + i];
        return s;
    }
}
