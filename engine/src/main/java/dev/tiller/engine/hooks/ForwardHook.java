package dev.tiller.engine.hooks;

/** Called at a hook point during the forward pass; may read or modify the activations in place. */
@FunctionalInterface
public interface ForwardHook {
    void apply(Activations activations);
}
