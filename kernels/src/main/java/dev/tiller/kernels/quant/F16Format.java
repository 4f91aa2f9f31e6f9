package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I;
import static dev.tiller.kernels.quant.Simd.I16_LE;
import static dev.tiller.kernels.quant.Simd.L;
import static dev.tiller.kernels.quant.Simd.LE;
import static dev.tiller.kernels.quant.Simd.S;

/**
 * IEEE half precision, little-endian.
 *
 * <p>The Vector API has no half-to-float conversion, but a half widens to a float with three integer lane ops and
 * one multiply, exactly: sign-extend the 16 bits to an int, shift left by 13 and keep the sign bit and the 15 bits
 * of exponent and mantissa ({@code & 0x8FFFE000}). That is a float with the half's sign and mantissa and an exponent
 * 112 below the half's, for normal and subnormal halves alike, and a multiply by 2^112 restores it exactly. Only
 * an all-ones exponent (infinity, NaN) would come out finite; patching it in every lane cost a third of the speed,
 * so instead a tensor is checked for them once, before its first use ({@link #firstUnreadable}), and refused.
 * This runs at about 3.4x the rate of decoding chunks with {@link Float#float16ToFloat} (which C2 vectorizes to
 * vcvtph2ps) into an L1 buffer and reading them back (MatVecBench, 896 x 4864, one thread: 10.4 to 35.7 GB/s).
 */
final class F16Format implements QuantFormat {
    @Override
    public GGMLType type() {
        return GGMLType.F16;
    }

    @Override
    public void dequantize(MemorySegment src, long byteOffset, float[] dst, int dstOffset, int n) {
        int i = 0;
        for (; i + L <= n; i += L) widen(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * i, LE)).intoArray(dst, dstOffset + i);
        for (; i < n; i++) dst[dstOffset + i] = Float.float16ToFloat(src.get(I16_LE, byteOffset + 2L * i));
    }

    @Override
    public float dot(MemorySegment src, long byteOffset, float[] x, int xOffset, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            FloatVector w0 = widen(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * i, LE));
            FloatVector w1 = widen(ShortVector.fromMemorySegment(S, src, byteOffset + 2L * (i + L), LE));
            acc0 = w0.fma(FloatVector.fromArray(F, x, xOffset + i), acc0);
            acc1 = w1.fma(FloatVector.fromArray(F, x, xOffset + i + L), acc1);
        }
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Float.float16ToFloat(src.get(I16_LE, byteOffset + 2L * i)) * x[xOffset + i];
        return s;
    }

    @Override
    public boolean checksValues() {
        return true;
    }

    /** The first half whose exponent is all ones (an infinity or a NaN), which {@link #widen} would read as finite. */
    @Override
    public long firstUnreadable(MemorySegment src, long count) {
        long i = 0;
        for (; i + S_WIDE.length() <= count; i += S_WIDE.length()) {
            ShortVector exp = ShortVector.fromMemorySegment(S_WIDE, src, 2 * i, LE).and(HALF_EXP_MASK);
            if (exp.eq(HALF_EXP_MASK).anyTrue()) break;
        }
        for (; i < count; i++) if ((src.get(I16_LE, 2 * i) & HALF_EXP_MASK) == HALF_EXP_MASK) return i;
        return -1;
    }

    private static final VectorSpecies<Short> S_WIDE = ShortVector.SPECIES_PREFERRED;
    private static final short HALF_EXP_MASK = 0x7C00;
    private static final int HALF_BITS = 0x8FFFE000;
    private static final float TWO_112 = 0x1p112f;

    /**
     * L halves to floats, exactly for every finite half (see the class comment); an infinity or NaN would read as a
     * finite number, which is why {@link dev.tiller.kernels.WeightMatrix} rejects tensors holding one before use.
     */
    private static FloatVector widen(ShortVector h) {
        IntVector bits = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13).and(HALF_BITS);
        return bits.reinterpretAsFloats().mul(TWO_112);
    }
}
