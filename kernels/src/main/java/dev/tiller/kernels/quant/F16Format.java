package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I16_LE;
import static dev.tiller.kernels.quant.Simd.L;

/**
 * IEEE half precision, little-endian.
 *
 * <p>The Vector API has no half-to-float conversion, and emulating it with integer lane ops (shift the
 * exponent and mantissa into float position, rescale by 2^112, patch infinities and NaNs, or in the sign) costs
 * about ten ops per vector. A plain loop of {@link Float#float16ToFloat} is
 * compiled by C2's auto-vectorizer to the hardware conversion (vcvtph2ps), so rows are decoded that way, a chunk
 * at a time into a small per-thread buffer that stays in L1, and the FMAs run on the decoded floats
 * (1.2–1.5x the emulated conversion, measured single-threaded on the Qwen2.5-0.5B-shaped F16 model).
 */
final class F16Format implements QuantFormat {
    /** Elements decoded per chunk of a dot product: 512 bytes of halves, 1 KiB of floats. */
    private static final int CHUNK = 256;
    private static final ThreadLocal<float[]> DECODED = ThreadLocal.withInitial(() -> new float[CHUNK]);

    @Override
    public GGMLType type() {
        return GGMLType.F16;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        decode(src, byteOffset, dst, dstOffset, n);
    }

    /** The loop C2 vectorizes: keep it this simple (one load, one conversion, one store per element). */
    private static void decode(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.float16ToFloat(src.get(I16_LE, byteOffset + 2L * i));
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        float[] w = DECODED.get();
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float tail = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int len = Math.min(CHUNK, n - c);
            decode(src, byteOffset + 2L * c, w, 0, len);
            int i = 0, xo = xOffset + c;
            for (; i + 2 * L <= len; i += 2 * L) {
                acc0 = FloatVector.fromArray(F, w, i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
                acc1 = FloatVector.fromArray(F, w, i + L).fma(FloatVector.fromArray(F, x, xo + i + L), acc1);
            }
            for (; i < len; i++) tail += w[i] * x[xo + i];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) + tail;
    }
}
