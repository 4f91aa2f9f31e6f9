package dev.tiller.steering.cli;

import dev.tiller.cli.TillerSubcommand;

/** Puts {@code train} and {@code train-eval} on the launcher. */
public final class TrainSubcommands {
    public static final class Train implements TillerSubcommand {
        @Override
        public String name() {
            return "train";
        }

        @Override
        public Object command() {
            return new TrainCommand();
        }
    }

    public static final class Eval implements TillerSubcommand {
        @Override
        public String name() {
            return "train-eval";
        }

        @Override
        public Object command() {
            return new TrainEvalCommand();
        }
    }

    private TrainSubcommands() {}
}
