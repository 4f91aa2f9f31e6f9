package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;
import dev.tiller.models.arch.Weight;

/**
 * llama.cpp's "_M" K-quant mixes, as its quantizer assigns them (the files people download for CPUs): every matrix in
 * the base K type, except the output matrix in Q6_K (for a model with tied embeddings, that is {@code token_embd}) and, in about half the blocks, {@code attn_v} and
 * {@code ffn_down} in Q6_K too. Those blocks are the first and last eighth and every third one between them. A matrix
 * whose rows are not whole 256-element super-blocks falls back as {@link SyntheticModel}'s single types do (Q4_K to
 * Q5_0, Q5_K to Q5_1, Q6_K to Q8_0).
 */
public enum QuantMix {
    Q4_K_M(GGMLType.Q4_K, 15),
    Q5_K_M(GGMLType.Q5_K, 17);

    private final GGMLType base;
    /** llama.cpp's {@code general.file_type} (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15, ..._Q5_K_M = 17). */
    final int fileType;

    QuantMix(GGMLType base, int fileType) {
        this.base = base;
        this.fileType = fileType;
    }

    public GGMLType base() {
        return base;
    }

    /** The mix named like llama.cpp's quantize types ("q4_k_m"), or null for any other name. */
    public static QuantMix parse(String name) {
        for (QuantMix m : values()) if (m.name().equalsIgnoreCase(name)) return m;
        return null;
    }

    /**
     * The type this mix gives weight {@code w} of block {@code layer} (ignored for model-wide weights) of a model with
     * {@code layers} blocks; with {@code tiedEmbeddings} the token embedding is also the output matrix and gets its type.
     */
    public GGMLType typeOf(Weight w, int layer, int layers, boolean tiedEmbeddings) {
        if (w == Weight.OUTPUT) return GGMLType.Q6_K;
        if (tiedEmbeddings && w == Weight.TOKEN_EMBD) return GGMLType.Q6_K;
        if ((w == Weight.ATTN_V || w == Weight.FFN_DOWN) && moreBits(layer, layers)) return GGMLType.Q6_K;
        return base;
    }

    /** The blocks that keep more bits: the first and last eighth, and every third block in between. */
    static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }
}
