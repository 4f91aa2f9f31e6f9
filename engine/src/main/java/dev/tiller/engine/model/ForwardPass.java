package dev.tiller.engine.model;

import dev.tiller.engine.hooks.Hooks;

/**
 * What runs a {@link Batch} through the model: {@link Transformer} on the CPU ({@code transformer::forward}) or
 * {@link CudaTransformer} on a GPU. Both take the same batch, run the same hooks at the same points, and write the
 * same [logitRows][vocab] logits.
 */
@FunctionalInterface
public interface ForwardPass {
    void forward(Batch batch, Hooks hooks, float[] logits);
}
