package dev.tiller.models.arch;

/**
 * The sizes a tensor's shape is stated in. The engine's model configuration and the synthetic writer's model shape both
 * provide them, so the shapes of {@link Weight} are written once for reading and for writing.
 */
public interface Sizes {
    /** Width of the residual stream (n_embd, hidden_size). */
    int dim();

    /** Width of all query heads together: heads × head_dim. */
    int qDim();

    /** Width of all key (or value) heads together: kv_heads × head_dim. */
    int kvDim();

    int headDim();

    /** Hidden width of the MLP (feed_forward_length, intermediate_size). */
    int ffnDim();

    int vocabSize();

    /** How many dimensions of a head RoPE rotates (usually head_dim). */
    int ropeDims();
}
