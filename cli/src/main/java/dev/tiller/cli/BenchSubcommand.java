package dev.tiller.cli;

import dev.tiller.bench.BenchCommand;


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
