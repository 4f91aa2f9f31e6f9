package dev.tiller.cli;

import dev.tiller.bench.CompareDevicesCommand;

/** Puts {@code compare-devices} (where CPU and GPU logits part ways) on the launcher. */
public final class CompareDevicesSubcommand implements TillerSubcommand {
    @Override
    public String name() {
        return "compare-devices";
    }

    @Override
    public Object command() {
        return new CompareDevicesCommand();
    }
}
