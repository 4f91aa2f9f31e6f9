package dev.tiller.kernels.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.I;

/**
 * Q5_0/Q5_1 keep the 5th bit of element i of a 32-element block in bit i of a little-endian u32 {@code qh}.
 * This rebuilds the 5-bit values of {@code L} consecutive elements as floats.
 */
final class FifthBits {

    /**
     * The elements {@code first .. first+L-1} of a block: {@code nibbles} holds their 4 low bits in lanes
     * {@code part*L ..}, {@code qh} their 5th bits. Returns {@code value - offset} as floats.
     */
    static FloatVector values(ByteVector nibbles, int part, int qh, int first, int offset) {
        IntVector shifts = IntVector.zero(I).addIndex(1).add(first);
        IntVector high = IntVector.broadcast(I, qh).lanewise(VectorOperators.LSHR, shifts).and(1).lanewise(VectorOperators.LSHL, 4);
        IntVector v = Simd.widenInt(nibbles, part).or(high).sub(offset);
        return (FloatVector) v.convertShape(VectorOperators.I2F, F, 0);
    }

    private FifthBits() {}
}
