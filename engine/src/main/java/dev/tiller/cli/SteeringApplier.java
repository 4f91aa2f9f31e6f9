package dev.tiller.cli;

import dev.tiller.engine.api.Session;

/** Implemented by the steering module: installs the hooks that {@link SteeringOptions} ask for on a session. */
public interface SteeringApplier {
    void apply(SteeringOptions options, Session session);
}
