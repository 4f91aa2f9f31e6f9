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

    /**
     * {@link #forward(Batch, Hooks, float[])} for a step whose callers need only the argmax of some logit rows (greedy
     * decoding): {@code ids[r]} is the argmax of logit row r (ties and NaNs as {@code Sampler.argmax}) for every row with
     * {@code argmaxOnly[r]}, and the logits of those rows may be left unwritten; every other row is written in full. This
     * default computes the argmax on the host from the full rows; {@link CudaTransformer} computes it on the device and
     * copies only the ids of those rows, unless something on the host needs the rows (then it is this default).
     */
    default void forward(Batch batch, Hooks hooks, float[] logits, int vocab, boolean[] argmaxOnly, int[] ids) {
        forward(batch, hooks, logits);
        hostArgmax(batch.logitRows(), logits, vocab, argmaxOnly, ids);
    }

    /** ids[r] = the host argmax of logit row r, for the rows with argmaxOnly[r]. */
    static void hostArgmax(int rows, float[] logits, int vocab, boolean[] argmaxOnly, int[] ids) {
        for (int r = 0; r < rows; r++) {
            if (argmaxOnly[r]) ids[r] = dev.tiller.engine.sampling.Sampler.argmax(logits, r * vocab, vocab);
        }
    }
}
