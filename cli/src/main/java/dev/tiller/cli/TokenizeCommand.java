package dev.tiller.cli;

import dev.tiller.engine.api.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code tiller tokenize}: show how a text splits into tokens. */
@Command(name = "tokenize", mixinStandardHelpOptions = true, description = "Print the token ids and pieces of a text.")
public final class TokenizeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT")
    String text;

    @Option(names = "--no-bos", description = "do not add BOS / special prefix tokens")
    boolean noBos;

    @Option(names = "--no-parse-special", description = "treat special-token text as plain text")
    boolean noParseSpecial;

    @Override
    public Integer call() {
        try (Model m = modelOptions.load()) {
            int[] ids = m.tokenizer().encode(text, !noBos, !noParseSpecial);
            for (int id : ids) System.out.printf("%6d -> '%s'%n", id, m.tokenizer().tokenText(id));
            System.out.println(ids.length + " tokens");
        }
        return 0;
    }
}
