package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.F32_LE;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.LE;

/** Plain little-endian float32. */
final class F32Format implements QuantFormat {

    @Override
    public GGMLType type() {
        return GGMLType.F32;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        MemorySegment.copy(src, F32_LE, byteOffset, dst, dstOffset, n);
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        // Two accumulators so consecutive FMAs do not wait on each other.
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            acc0 = FloatVector.fromMemorySegment(F, src, byteOffset + 4L * i, LE).fma(FloatVector.fromArray(F, x, xOffset + i), acc0);
            acc1 = FloatVector.fromMemorySegment(F, src, byteOffset + 4L * (i + L), LE).fma(FloatVector.fromArray(F, x, xOffset + i + L), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += src.get(F32_LE, byteOffset + 4L * i) * x[xOffset + i];
        return s;
    }
}
