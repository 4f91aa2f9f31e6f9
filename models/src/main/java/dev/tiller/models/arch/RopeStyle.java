package dev.tiller.models.arch;

/** Which pairs of a head's dimensions RoPE rotates together. */
public enum RopeStyle {
    /** Pairs (i, i + d/2): HF's {@code rotate_half}, llama.cpp's NEOX type. */
    NEOX,
    /**
     * Pairs (2i, 2i + 1): llama.cpp's normal type. Its converter permutes the Q and K rows of llama checkpoints so that
     * this rotation computes what HF's rotate-half does on the original rows.
     */
    ADJACENT_PAIRS
}
