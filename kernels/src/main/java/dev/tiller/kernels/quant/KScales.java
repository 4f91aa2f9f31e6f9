package dev.tiller.kernels.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;

/**
 * The 12-byte scale field of Q4_K/Q5_K: eight 6-bit scales and eight 6-bit mins (ggml's get_scale_min_k4).
 * Sub-blocks 0-3 keep theirs in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 keep their
 * low 4 bits in the nibbles of bytes 8-11 and their top 2 bits in the top bits of bytes 0-7.
 */
final class KScales {

    static int scale(MemorySegment s, long scales, int j) {
        if (j < 4) return Simd.u8(s, scales + j) & 63;
        return (Simd.u8(s, scales + j + 4) & 0xF) | ((Simd.u8(s, scales + j - 4) >> 6) << 4);
    }

    static int min(MemorySegment s, long scales, int j) {
        if (j < 4) return Simd.u8(s, scales + j + 4) & 63;
        return (Simd.u8(s, scales + j + 4) >> 4) | ((Simd.u8(s, scales + j) >> 6) << 4);
    }

    // The same fields four at a time (SWAR), for dot products that read the twelve bytes as three little-endian
    // ints w0 (bytes 0-3), w1 (4-7), w2 (8-11): each result holds four 6-bit values, one per byte.

    /** Scales of sub-blocks 0-3. */
    static int scales03(int w0) {
        return w0 & 0x3F3F3F3F;
    }

    /** Scales of sub-blocks 4-7: low 4 bits from the nibbles of bytes 8-11, top 2 bits from bytes 0-3. */
    static int scales47(int w0, int w2) {
        return (w2 & 0x0F0F0F0F) | (((w0 >>> 6) & 0x03030303) << 4);
    }

    /** Mins of sub-blocks 0-3. */
    static int mins03(int w1) {
        return w1 & 0x3F3F3F3F;
    }

    /** Mins of sub-blocks 4-7: low 4 bits from the high nibbles of bytes 8-11, top 2 bits from bytes 4-7. */
    static int mins47(int w1, int w2) {
        return ((w2 >>> 4) & 0x0F0F0F0F) | (((w1 >>> 6) & 0x03030303) << 4);
    }

    /** Σ_j min_j · sums[at + j] over the eight sub-blocks: a super-block's min term, given x's per-32 sums. */
    static float minsDot(int w1, int w2, float[] sums, int at) {
        int mn03 = mins03(w1), mn47 = mins47(w1, w2);
        return (mn03 & 0xFF) * sums[at] + ((mn03 >>> 8) & 0xFF) * sums[at + 1]
                + ((mn03 >>> 16) & 0xFF) * sums[at + 2] + (mn03 >>> 24) * sums[at + 3]
                + (mn47 & 0xFF) * sums[at + 4] + ((mn47 >>> 8) & 0xFF) * sums[at + 5]
                + ((mn47 >>> 16) & 0xFF) * sums[at + 6] + (mn47 >>> 24) * sums[at + 7];
    }

    // A super-block's sixteen factors in one 16-lane float vector (for the dot products when the float shape has 16
    // lanes): lanes 0-7 dmin·min_j, lanes 8-15 d·scale_j. Made with one conversion and one multiply instead of a
    // scalar conversion and multiply per scale, which ran on the same vector units as the dot product.

    /** Lanes 0-7 (the mins). */
    static final VectorMask<Float> MINS = VectorMask.fromLong(F, 0xFFL);
    private static final VectorMask<Float> SCALES = VectorMask.fromLong(F, 0xFF00L);
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[16]);

    /**
     * This thread's 16 floats for a super-block's factors: the dot products store the factors vector there once and
     * broadcast each sub-block's scale from it, a load instead of a lane permute on the vector units.
     */
    static float[] scratch() {
        return SCRATCH.get();
    }

    /** The factors vector of a super-block with scale words w0-w2 (see the SWAR helpers above). */
    static FloatVector factors(int w0, int w1, int w2, float d, float dmin) {
        long mins = (mins03(w1) & 0xFFFFFFFFL) | ((long) mins47(w1, w2) << 32);
        long scales = (scales03(w0) & 0xFFFFFFFFL) | ((long) scales47(w0, w2) << 32);
        ByteVector bytes = LongVector.broadcast(LongVector.SPECIES_128, mins).withLane(1, scales).reinterpretAsBytes();
        return ((FloatVector) bytes.convertShape(VectorOperators.B2F, F, 0)).mul(FloatVector.broadcast(F, dmin).blend(d, SCALES));
    }

    /** Packs 6-bit scale {@code ls} and min {@code lm} of sub-block j into the 12 bytes (which start zeroed). */
    static void pack(byte[] scales, int j, int ls, int lm) {
        if (j < 4) {
            scales[j] = (byte) ls;
            scales[j + 4] = (byte) lm;
        } else {
            scales[j + 4] = (byte) ((ls & 0xF) | ((lm & 0xF) << 4));
            scales[j - 4] |= (byte) ((ls >> 4) << 6);
            scales[j] |= (byte) ((lm >> 4) << 6);
        }
    }

    private KScales() {}
}
