package dev.tiller.engine.hooks;

import dev.tiller.loader.ArrayText;

/**
 * A steering hook that adds {@code scale * vector} to every row of its point, e.g. a control vector at
 * {@code blocks.L.hook_resid_post}. Same effect as a lambda that calls {@link Activations#addToRow}, but a GPU
 * forward pass recognises it and adds the vector on the device instead of copying the activations to the host.
 */
public record RowVectorAdd(float[] vector, float scale) implements ForwardHook {

    @Override
    public String toString() {
        return "RowVectorAdd[vector=" + ArrayText.of(vector) + ", scale=" + scale + "]";
    }
    @Override
    public void apply(Activations a) {
        if (a.width() != vector.length) {
            throw new IllegalArgumentException("steering vector has width " + vector.length + " but " + a.point() + " has width " + a.width());
        }
        for (int t = 0; t < a.tokens(); t++) a.addToRow(t, vector, scale);
    }
}
