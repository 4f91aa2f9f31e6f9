package dev.tiller.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.ServiceLoader;

/**
 * The {@code ./tiller} launcher's entry point. Subcommands from modules above the engine (steering, models, bench)
 * join through {@link TillerSubcommand} service providers, so the engine does not depend on them.
 */
@Command(name = "tiller", mixinStandardHelpOptions = true, version = "tiller 0.1.0",
        description = "Pure-Java LLM inference with steering vectors.",
        subcommands = {GenerateCommand.class, InfoCommand.class, TokenizeCommand.class, BatchCommand.class, EvalCommand.class,
                CommandLine.HelpCommand.class})
public final class Tiller implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Tiller());
        for (TillerSubcommand sub : ServiceLoader.load(TillerSubcommand.class)) {
            cl.addSubcommand(sub.name(), sub.command());
        }
        cl.setExecutionExceptionHandler(new ErrorHandler());
        return cl;
    }

    public static void main(String[] args) {
        int code = commandLine().execute(args);
        System.out.flush();
        System.exit(code);
    }

    /** Known failures (bad files, bad arguments) print one clear line instead of a stack trace. */
    static final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
            if (ex instanceof dev.tiller.loader.ModelFormatException || ex instanceof IllegalArgumentException
                    || ex instanceof UnsupportedOperationException || ex instanceof IllegalStateException
                    || ex instanceof java.io.UncheckedIOException
                    || ex instanceof dev.tiller.engine.model.MemoryBudgetExceededException) {
                cl.getErr().println("error: " + ex.getMessage());
                if (System.getenv("TILLER_DEBUG") != null) ex.printStackTrace(cl.getErr());
                return 1;
            }
            throw new RuntimeException(ex);
        }
    }
}
