package dev.tiller.cli;

/** A subcommand contributed by another module through {@link java.util.ServiceLoader}. */
public interface TillerSubcommand {
    String name();

    /** A picocli {@code @Command} object. */
    Object command();
}
