package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

final class F16Format implements QuantFormat {
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public GGMLType type() {
        return GGMLType.F16;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.float16ToFloat(src.get(I16, byteOffset + 2L * i));
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += Float.float16ToFloat(src.get(I16, byteOffset + 2L * i)) * x[xOffset + i];
        return s;
    }
}
