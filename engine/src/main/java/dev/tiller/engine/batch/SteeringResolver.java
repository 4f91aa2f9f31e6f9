package dev.tiller.engine.batch;

import dev.tiller.engine.api.Model;

/**
 * Turns a request's {@code steer} spec into per-row hooks. Implementations come from {@link java.util.ServiceLoader}
 * (the steering module provides llama.cpp control vectors); the engine tries each until one accepts the spec.
 */
public interface SteeringResolver {
    /**
     * @return the steering, or null when this resolver does not handle the spec's kind of file
     * @throws IllegalArgumentException when it handles the kind but the file is wrong (missing, made for another model)
     */
    RowSteering resolve(String spec, Model model);
}
