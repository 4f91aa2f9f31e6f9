package dev.tiller.kernels.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static dev.tiller.kernels.quant.Simd.F;
import static dev.tiller.kernels.quant.Simd.L;

/**
 * An activation vector quantized like ggml's block_q8_0 (per 32 elements: {@code d = max|x| / 127},
 * {@code q = round(x / d)}), for integer dot products with Q8_0 weights (ggml's vec_dot_q8_0_q8_0). The int8 values
 * are kept widened to shorts so each block's 32 products are one short multiply.
 *
 * <p>Error: besides float rounding, |dot(w, x) - dot(w, x̂)| ≤ Σ_blocks (max|x_b| / 254) · Σ_{i∈b} |w_i|, the
 * activation's rounding to its grid.
 *
 * <p>Measured (Q8DotBench in bench): in Java this path is no faster than the float dot of {@link Q8_0Format},
 * because the Vector API has no widening multiply-add (x86 pmaddubsw / pmaddwd / vpdpbusd); summing the 16-bit
 * products in pairs takes three shifts and an add, which costs what the float conversion saved. The engine
 * therefore uses the float kernels; this stays as the tested integer kernel.
 */
public final class Q8Activations {
    static final int BLOCK = 32;
    private static final VectorSpecies<Short> S2 = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 32));
    private static final VectorSpecies<Byte> B2 = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 16));
    private static final VectorSpecies<Integer> I = Simd.I;
    private static final int SL = S2.length(); // 2L shorts per vector

    private short[] q = new short[0];
    private float[] d = new float[0];
    private int n;

    /** Quantizes x[off, off + n) (n a multiple of 32) into this object, reusing its arrays. */
    public Q8Activations quantize(float[] x, int off, int n) {
        if (n % BLOCK != 0) throw new IllegalArgumentException("length " + n + " is not a multiple of " + BLOCK);
        if (q.length < n) {
            q = new short[n];
            d = new float[n / BLOCK];
        }
        this.n = n;
        for (int b = 0; b < n / BLOCK; b++) {
            int o = off + b * BLOCK;
            float amax = 0;
            for (int i = 0; i < BLOCK; i++) amax = Math.max(amax, Math.abs(x[o + i]));
            float db = amax / 127f;
            float id = db != 0 ? 1f / db : 0f;
            d[b] = db;
            for (int i = 0; i < BLOCK; i++) q[b * BLOCK + i] = (short) Math.round(x[o + i] * id);
        }
        return this;
    }

    public int length() {
        return n;
    }

    /** The dequantized activation value i (for tests). */
    public float value(int i) {
        return q[i] * d[i / BLOCK];
    }

    /** dot(Q8_0 row at byteOffset, this) over n elements, with integer products per block. */
    public float dotQ8_0(MemorySegment src, long byteOffset) {
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < n / BLOCK; b++) {
            long bo = byteOffset + (long) b * Q8_0Format.BYTES;
            IntVector sum = IntVector.zero(I);
            for (int p = 0; p < BLOCK / SL; p++) {
                ShortVector w = (ShortVector) ByteVector.fromMemorySegment(B2, src, bo + 2 + p * SL, Simd.LE).convertShape(VectorOperators.B2S, S2, 0);
                ShortVector prod = w.mul(ShortVector.fromArray(S2, q, b * BLOCK + p * SL));
                // each int lane holds two 16-bit products: add them (low half sign-extended, high half arithmetic shift)
                IntVector pair = prod.reinterpretAsInts();
                sum = sum.add(pair.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(pair.lanewise(VectorOperators.ASHR, 16));
            }
            float scale = Simd.half(src, bo) * d[b];
            acc = ((FloatVector) sum.convert(VectorOperators.I2F, 0)).fma(FloatVector.broadcast(F, scale), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
