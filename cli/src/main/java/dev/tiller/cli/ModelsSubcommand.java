package dev.tiller.cli;

import dev.tiller.models.synthetic.ModelsCommand;

/** Puts the models module's {@code models} command on the launcher (models sits beside the engine, not above it). */
public final class ModelsSubcommand implements TillerSubcommand {
    @Override
    public String name() {
        return "models";
    }

    @Override
    public Object command() {
        return new ModelsCommand();
    }
}
