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

    /**
     * As {@link #forward(Batch, Hooks, float[], int, boolean[], int[])}, and also for rows whose token is a plain
     * temperature draw: where {@code invTemperature[r] > 0} (and not argmaxOnly[r]), {@code ids[r]} is the
     * {@link dev.tiller.engine.sampling.GumbelMax} pick of row r with {@code keys[r]}, and that row's logits may be left
     * unwritten. This default picks on the host from the full rows; {@link CudaTransformer} picks on the device.
     */
    default void forward(Batch batch, Hooks hooks, float[] logits, int vocab, boolean[] argmaxOnly, float[] invTemperature, long[] keys, int[] ids) {
        forward(batch, hooks, logits);
        hostPicks(batch.logitRows(), logits, vocab, argmaxOnly, invTemperature, keys, ids);
    }

    /** Whether {@link #forward(Batch, Hooks, float[], int, boolean[], float[], long[], int[])} draws where the rows are (saving their copy). */
    default boolean picksOnDevice() {
        return false;
    }

    /** ids[r] for the argmax rows and the drawn rows, from the full rows on the host. */
    static void hostPicks(int rows, float[] logits, int vocab, boolean[] argmaxOnly, float[] invTemperature, long[] keys, int[] ids) {
        hostArgmax(rows, logits, vocab, argmaxOnly, ids);
        for (int r = 0; r < rows; r++) {
            if (!argmaxOnly[r] && invTemperature[r] > 0) ids[r] = dev.tiller.engine.sampling.GumbelMax.pick(logits, r * vocab, vocab, invTemperature[r], keys[r]);
        }
    }

    /** ids[r] = the host argmax of logit row r, for the rows with argmaxOnly[r]. */
    static void hostArgmax(int rows, float[] logits, int vocab, boolean[] argmaxOnly, int[] ids) {
        for (int r = 0; r < rows; r++) {
            if (argmaxOnly[r]) ids[r] = dev.tiller.engine.sampling.Sampler.argmax(logits, r * vocab, vocab);
        }
    }
}
