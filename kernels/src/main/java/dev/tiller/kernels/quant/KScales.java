package dev.tiller.kernels.quant;

import java.lang.foreign.MemorySegment;

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
