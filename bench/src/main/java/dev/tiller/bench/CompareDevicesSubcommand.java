package dev.tiller.bench;

import dev.tiller.cli.TillerSubcommand;

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
