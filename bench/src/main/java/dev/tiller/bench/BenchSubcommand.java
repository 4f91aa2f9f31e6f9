package dev.tiller.bench;

import dev.tiller.cli.TillerSubcommand;

/** Puts {@code bench} (throughput and bandwidth) on the launcher. */
public final class BenchSubcommand implements TillerSubcommand {
    @Override
    public String name() {
        return "bench";
    }

    @Override
    public Object command() {
        return new BenchCommand();
    }
}
