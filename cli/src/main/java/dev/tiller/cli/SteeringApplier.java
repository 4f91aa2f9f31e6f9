package dev.tiller.cli;

import dev.tiller.engine.api.Session;

/** Implemented by the steering module: installs the hooks that {@link SteeringOptions} ask for on a session. */
public interface SteeringApplier {
    void apply(SteeringOptions options, Session session);

    /**
     * The prompt tokens the steered session must evaluate; prefix vectors need placeholder tokens before the prompt.
     * Called after {@link #apply}.
     */
    default int[] prompt(SteeringOptions options, Session session, int[] promptTokens) {
        return promptTokens;
    }
}
