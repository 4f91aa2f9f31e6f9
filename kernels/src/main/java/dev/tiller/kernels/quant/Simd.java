package dev.tiller.kernels.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Little-endian memory layouts and the vector shapes shared by every format.
 *
 * <p>Quantized blocks are read 16 bytes at a time ({@link #B16}); one 16-byte vector widens to {@link #PARTS}
 * float vectors of {@link #L} lanes. Keeping the byte shape fixed at 128 bits lets the same code run on SSE,
 * AVX2 and AVX-512 (16 bytes are one, two or four float vectors).
 */
final class Simd {
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    static final VectorSpecies<Float> F = floatSpecies();
    static final int L = F.length();
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Float vectors per 16 bytes. */
    static final int PARTS = 16 / L;

    /** The preferred float shape, kept between 4 and 16 lanes so that 16 bytes always split into whole vectors. */
    private static VectorSpecies<Float> floatSpecies() {
        VectorSpecies<Float> p = FloatVector.SPECIES_PREFERRED;
        if (p.length() > 16) return FloatVector.SPECIES_512;
        if (p.length() < 4) return FloatVector.SPECIES_128;
        return p;
    }

    static float half(MemorySegment s, long offset) {
        return Float.float16ToFloat(s.get(I16_LE, offset));
    }

    static int u8(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    static ByteVector load16(MemorySegment s, long offset) {
        return ByteVector.fromMemorySegment(B16, s, offset, LE);
    }

    /** Lanes {@code part*L .. part*L+L-1} of a 16-byte vector, sign-extended to floats. */
    static FloatVector widen(ByteVector b, int part) {
        return (FloatVector) b.convertShape(VectorOperators.B2F, F, part);
    }

    /** Lanes {@code part*L ..} of a 16-byte vector, zero-extended to ints (for nibble formats: one widening, then
     * int lane ops, instead of byte ops the x86 backend emulates). */
    static IntVector widenUnsigned(ByteVector b, int part) {
        return (IntVector) b.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, part);
    }

    /** Lanes {@code part*L ..} of a 16-byte vector, sign-extended to ints. */
    static IntVector widenInt(ByteVector b, int part) {
        return (IntVector) b.convertShape(VectorOperators.B2I, I, part);
    }

    /** bfloat16 to float: the 16 bits are the top half of the float. */
    static FloatVector bf16ToFloat(ShortVector h) {
        IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static float bf16ToFloat(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    private Simd() {}
}
