package dev.tiller.cli;

import dev.tiller.engine.api.Model;
import dev.tiller.loader.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

/** {@code tiller info}: what a model file holds. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Print a model's configuration, tokenizer and tensors.")
public final class InfoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--tensors", description = "list every tensor")
    boolean tensors;

    @Override
    public Integer call() {
        try (Model m = modelOptions.load()) {
            System.out.println("model:      " + m.path());
            System.out.println("config:     " + m.config());
            // the block as the architecture's description states it, with the hook points steering can use
            System.out.println("block:      " + String.join(" → ", m.config().architecture().blockOrder()));
            System.out.println("vocab:      " + m.tokenizer().vocabSize() + " tokens, bos=" + m.tokenizer().bosId() + " eos=" + m.tokenizer().eosId());
            System.out.println("chat:       " + (m.chatTemplate().isPresent() ? "template present" : "no template"));
            long bytes = 0;
            for (Tensor t : m.tensors().tensors().values()) bytes += t.data().byteSize();
            System.out.printf("tensors:    %d, %.1f MiB mapped%n", m.tensors().tensors().size(), bytes / 1048576.0);
            if (tensors) for (Tensor t : m.tensors().tensors().values()) System.out.println("  " + t);
        }
        return 0;
    }
}
