package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every format's kernels against {@link ReferenceDequantizer} on random blocks.
 *
 * <p>Dequantize must be exact: in every format the product d*scale*q is exactly representable in float and only
 * the last operation rounds, so the kernel must return the float nearest to the float64 value.
 *
 * <p>Dot: |dot - ref| ≤ 2e-5 · Σ|magnitude_i · x_i| (magnitude = |d·scale·q| + |min| of element i). With float
 * accumulation over at most a few hundred partial sums the rounding error is far below that; a wrong element
 * or a wrong scale is far above it.
 */
class QuantFormatTest {
    private static final double DOT_RELATIVE_BOUND = 2e-5;

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizeMatchesReferenceExactly(GGMLType type) {
        Random rnd = new Random(type.ordinal() * 31L + 1);
        int rows = 3, cols = 4 * 256 + (type.blockSize == 1 ? 7 : 0); // odd length for plain types: scalar tails
        byte[] bytes = RandomBlocks.of(type, rows * cols, rnd);
        MemorySegment seg = MemorySegment.ofArray(bytes);
        QuantFormat f = QuantFormat.of(type, "t");
        long rowBytes = type.byteSize(cols);
        for (int r = 0; r < rows; r++) {
            ReferenceDequantizer ref = ReferenceDequantizer.decode(type, bytes, (int) (r * rowBytes), cols);
            float[] out = new float[cols + 5];
            f.dequantize(seg, r * rowBytes, out, 5, cols);
            for (int i = 0; i < cols; i++) {
                if (out[5 + i] != (float) ref.values[i]) {
                    fail(type + " row " + r + " element " + i + ": kernel " + out[5 + i] + ", reference " + ref.values[i]);
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void dotAndDot4MatchReferenceWithinBound(GGMLType type) {
        Random rnd = new Random(type.ordinal() * 17L + 3);
        int rows = 4, cols = 4 * 256 + (type.blockSize == 1 ? 13 : 0);
        byte[] bytes = RandomBlocks.of(type, rows * cols, rnd);
        MemorySegment seg = MemorySegment.ofArray(bytes);
        QuantFormat f = QuantFormat.of(type, "t");
        long rowBytes = type.byteSize(cols);
        float[] x = new float[cols + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int r = 0; r < rows; r++) {
            assertDotWithinBound(type, bytes, r, cols, x, 3, f.dot(seg, r * rowBytes, x, 3, cols), "dot");
        }
        // the four-row kernel, rows given out of order and written to scattered outputs, against the same references
        int[] order = {2, 0, 3, 1}, at = {7, 1, 4, 0};
        float[] y = new float[9];
        f.dot4(seg, order[0] * rowBytes, order[1] * rowBytes, order[2] * rowBytes, order[3] * rowBytes, x, 3,
                f.usesBlockSums() ? BlockSums.of(x, 3, cols) : null, cols, y, at[0], at[1], at[2], at[3]);
        for (int j = 0; j < 4; j++) assertDotWithinBound(type, bytes, order[j], cols, x, 3, y[at[j]], "dot4");
        if (cols % BlockSums.BLOCK != 0) return;
        // the same given x's block sums, as a matrix-vector product passes them
        float[] sums = f.usesBlockSums() ? BlockSums.of(x, 3, cols) : null; // null: a format that reads them must say so
        for (int r = 0; r < rows; r++) {
            assertDotWithinBound(type, bytes, r, cols, x, 3, f.dot(seg, r * rowBytes, x, 3, sums, cols), "dot with sums");
        }
        java.util.Arrays.fill(y, Float.NaN);
        f.dot4(seg, order[0] * rowBytes, order[1] * rowBytes, order[2] * rowBytes, order[3] * rowBytes, x, 3, sums, cols, y, at[0], at[1], at[2], at[3]);
        for (int j = 0; j < 4; j++) assertDotWithinBound(type, bytes, order[j], cols, x, 3, y[at[j]], "dot4 with sums");
    }

    /** got vs the float64 dot of row r (decoded by the independent reference) with x[xOff ..]. */
    private static void assertDotWithinBound(GGMLType type, byte[] bytes, int r, int cols, float[] x, int xOff, float got, String what) {
        ReferenceDequantizer ref = ReferenceDequantizer.decode(type, bytes, (int) (r * type.byteSize(cols)), cols);
        double exact = 0, scale = 0;
        for (int i = 0; i < cols; i++) {
            exact += ref.values[i] * x[xOff + i];
            scale += Math.abs(ref.magnitudes[i] == 0 ? ref.values[i] : ref.magnitudes[i]) * Math.abs(x[xOff + i]);
        }
        double err = Math.abs(got - exact);
        assertTrue(err <= DOT_RELATIVE_BOUND * scale,
                type + " row " + r + ": " + what + " " + got + " vs " + exact + ", error " + err + " > bound " + DOT_RELATIVE_BOUND * scale);
    }

    @Test
    void bf16DecodesEveryBitPatternExactly() {
        byte[] bytes = new byte[2 * 65536];
        for (int h = 0; h < 65536; h++) RandomBlocks.putU16(bytes, 2 * h, (short) h);
        float[] out = new float[65536];
        QuantFormat.of(GGMLType.BF16, "t").dequantize(MemorySegment.ofArray(bytes), 0, out, 0, 65536);
        for (int h = 0; h < 65536; h++) {
            double ref = ReferenceDequantizer.bf16(h);
            boolean same = Double.isNaN(ref) ? Float.isNaN(out[h]) : out[h] == (float) ref;
            if (!same) fail("bf16 0x" + Integer.toHexString(h) + ": kernel " + out[h] + ", reference " + ref);
        }
    }

    /**
     * Q4_K, Q5_K and Q6_K build their scales in one 16-lane vector; machines with other vector widths take the scalar-scale
     * kernels, which this machine would never run: checked here directly.
     */
    @Test
    void kQuantScalarScaleKernelsMatchReference() {
        Random rnd = new Random(5);
        int rows = 3, cols = 4 * 256;
        float[] x = new float[cols + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (GGMLType type : new GGMLType[] {GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K}) {
            byte[] bytes = RandomBlocks.of(type, rows * cols, rnd);
            MemorySegment seg = MemorySegment.ofArray(bytes);
            long rowBytes = type.byteSize(cols);
            for (int r = 0; r < rows; r++) {
                float[] sums = BlockSums.of(x, 3, cols);
                float got = switch (type) {
                    case Q4_K -> Q4_KFormat.dotScalarScales(seg, r * rowBytes, x, 3, sums, cols);
                    case Q5_K -> Q5_KFormat.dotScalarScales(seg, r * rowBytes, x, 3, sums, cols);
                    default -> Q6_KFormat.dotScalarScales(seg, r * rowBytes, x, 3, cols);
                };
                assertDotWithinBound(type, bytes, r, cols, x, 3, got, "scalar-scale dot");
            }
        }
    }

    /** Every finite half through both kernels (the lane conversion and its scalar tail), bit for bit, signed zeros too. */
    @Test
    void f16DecodesEveryFiniteBitPatternExactly() {
        int[] finite = java.util.stream.IntStream.range(0, 65536).filter(h -> (h & 0x7C00) != 0x7C00).toArray();
        byte[] bytes = new byte[2 * finite.length];
        for (int i = 0; i < finite.length; i++) RandomBlocks.putU16(bytes, 2 * i, (short) finite[i]);
        MemorySegment seg = MemorySegment.ofArray(bytes);
        QuantFormat f = QuantFormat.of(GGMLType.F16, "t");
        float[] out = new float[finite.length];
        f.dequantize(seg, 0, out, 0, finite.length - 5);   // not a whole number of vectors: the tail too
        f.dequantize(seg, 2L * (finite.length - 5), out, finite.length - 5, 5);
        float[] one = new float[finite.length];
        for (int i = 0; i < finite.length; i++) {
            double ref = ReferenceDequantizer.half(finite[i]);
            if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits((float) ref)) {
                fail("f16 0x" + Integer.toHexString(finite[i]) + ": kernel " + out[i] + ", reference " + ref);
            }
            // dot with a one-hot x reads the same value (x = 1 keeps it exact)
            if (i % 97 == 0) {
                one[i] = 1;
                float d = f.dot(seg, 0, one, 0, finite.length);
                one[i] = 0;
                assertEquals((float) ref, d, 0f, "dot picking f16 0x" + Integer.toHexString(finite[i]));
            }
        }
        assertEquals(-1, f.firstUnreadable(seg, finite.length));
    }

    /** The fast F16 conversion would read infinities and NaNs as finite; the check that guards it finds each one. */
    @Test
    void f16FindsInfinitiesAndNaNs() {
        QuantFormat f = QuantFormat.of(GGMLType.F16, "t");
        assertTrue(f.checksValues());
        int n = 1000;
        for (int bad : new int[] {0x7C00, 0xFC00, 0x7E00, 0xFFFF, 0x7C01}) {
            for (int at : new int[] {0, 31, 500, n - 1}) {   // in a vector and in the scalar tail
                byte[] bytes = new byte[2 * n];
                for (int i = 0; i < n; i++) RandomBlocks.putU16(bytes, 2 * i, (short) (0x3C00 + i % 512));
                RandomBlocks.putU16(bytes, 2 * at, (short) bad);
                assertEquals(at, f.firstUnreadable(MemorySegment.ofArray(bytes), n), "0x" + Integer.toHexString(bad) + " at " + at);
            }
        }
    }

    @Test
    void unsupportedTypeNamesTensorAndType() {
        var e = assertThrows(UnsupportedOperationException.class, () -> QuantFormat.of(GGMLType.Q2_K, "blk.3.ffn_down.weight"));
        assertTrue(e.getMessage().contains("blk.3.ffn_down.weight"), e.getMessage());
        assertTrue(e.getMessage().contains("Q2_K"), e.getMessage());
    }

    @Test
    void everyComputableTypeHasAFormat() {
        for (GGMLType t : GGMLType.values()) {
            if (t.computable) assertEquals(t, QuantFormat.of(t, "t").type());
        }
    }
}
