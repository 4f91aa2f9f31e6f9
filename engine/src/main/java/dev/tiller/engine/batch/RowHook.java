package dev.tiller.engine.batch;

import dev.tiller.engine.hooks.Activations;

/** A hook applied to one row of a batched forward pass (the row of one request). */
@FunctionalInterface
public interface RowHook {
    void apply(Activations activations, int row);
}
