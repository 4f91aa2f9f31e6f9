package dev.tiller.steering.cli;

import dev.tiller.cli.TillerSubcommand;

/** The steering module's commands, found by {@code ./tiller} through {@link java.util.ServiceLoader}. */
public final class SteeringSubcommands {

    public static final class Extract implements TillerSubcommand {
        public String name() { return "extract"; }
        public Object command() { return new ExtractCommand(); }
    }

    public static final class Lens implements TillerSubcommand {
        public String name() { return "lens"; }
        public Object command() { return new LensCommand(); }
    }

    public static final class Sweep implements TillerSubcommand {
        public String name() { return "sweep"; }
        public Object command() { return new SweepCommand(); }
    }

    public static final class Overhead implements TillerSubcommand {
        public String name() { return "steer-overhead"; }
        public Object command() { return new OverheadCommand(); }
    }

    private SteeringSubcommands() {}
}
