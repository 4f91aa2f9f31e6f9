package dev.tiller.cli;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.engine.sampling.SamplerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;

/** {@code tiller generate}: llama.cpp-style text generation, streamed to stdout, statistics to stderr. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate a continuation of a prompt (or a chat reply).")
public final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "the prompt (or the user message with --chat)")
    String prompt;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "read the prompt from a file")
    Path promptFile;

    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", defaultValue = "256", description = "tokens to generate, -1 = until end (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temp", paramLabel = "T", defaultValue = "0.8", description = "temperature; 0 = greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "40", description = "top-k, 0 = off (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.95", description = "top-p, 1 = off (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0.05", description = "min-p, 0 = off (default: ${DEFAULT-VALUE})")
    float minP;

    @Option(names = "--repeat-penalty", paramLabel = "X", defaultValue = "1.0", description = "repetition penalty, 1 = off (default: ${DEFAULT-VALUE})")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", paramLabel = "N", defaultValue = "64", description = "tokens the penalties look back over (default: ${DEFAULT-VALUE})")
    int repeatLastN;

    @Option(names = "--presence-penalty", paramLabel = "X", defaultValue = "0.0", description = "presence penalty (default: ${DEFAULT-VALUE})")
    float presencePenalty;

    @Option(names = "--frequency-penalty", paramLabel = "X", defaultValue = "0.0", description = "frequency penalty (default: ${DEFAULT-VALUE})")
    float frequencyPenalty;

    @Option(names = {"-s", "--seed"}, paramLabel = "N", defaultValue = "-1", description = "random seed, -1 = random (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop when this text is generated (repeatable)")
    List<String> stop = new ArrayList<>();

    @Option(names = "--chat", description = "wrap the prompt in the model's chat template as a user message")
    boolean chat;

    @Option(names = "--system", paramLabel = "TEXT", description = "system message for --chat")
    String system;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-generation tokens")
    boolean ignoreEos;

    @Option(names = "--no-display-prompt", description = "do not echo the prompt before the continuation")
    boolean noDisplayPrompt;

    @Mixin
    SteeringOptions steering;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        String text = promptText();
        try (Model model = modelOptions.load()) {
            Session session = model.newSession(modelOptions.contextFor(model));
            List<SteeringApplier> appliers = new ArrayList<>();
            if (steering.any()) {
                ServiceLoader.load(SteeringApplier.class).forEach(appliers::add);
                if (appliers.isEmpty()) throw new IllegalStateException("steering options need the tiller-steering module on the class path");
                for (SteeringApplier a : appliers) a.apply(steering, session);
            }
            boolean addSpecial = true;
            String input = text;
            if (chat) {
                var template = model.chatTemplate().orElseThrow(() -> new IllegalArgumentException(
                        "--chat: the model " + modelOptions.model + " has no chat template"));
                List<ChatMessage> messages = new ArrayList<>();
                if (system != null) messages.add(new ChatMessage("system", system));
                messages.add(new ChatMessage("user", text));
                input = template.render(messages, true);
                addSpecial = false; // the template writes BOS itself where the model wants one
            } else if (system != null) {
                throw new IllegalArgumentException("--system needs --chat");
            }
            SamplerConfig sc = new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty,
                    frequencyPenalty, seed);
            GenerationOptions opts = GenerationOptions.defaults().withSampler(sc).withMaxTokens(maxTokens).withStop(stop)
                    .withAddSpecial(addSpecial).withIgnoreEos(ignoreEos);
            // picocli's writer: System.out (UTF-8 under ./tiller), or whatever an embedding caller or a test set
            java.io.PrintWriter out = spec.commandLine().getOut();
            if (!noDisplayPrompt && !chat) out.print(text);
            int[] promptTokens = model.tokenizer().encode(input, addSpecial, opts.parseSpecial());
            for (SteeringApplier a : appliers) promptTokens = a.prompt(steering, session, promptTokens);
            Generation g = new Generator(session).generate(promptTokens, opts, piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            System.err.printf("%nprompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | finish: %s%n",
                    g.promptTokens().length, g.promptTokensPerSecond(), g.tokens().length, g.generatedTokensPerSecond(), g.finishReason());
        }
        return 0;
    }

    private String promptText() {
        if (prompt != null && promptFile != null) throw new IllegalArgumentException("give either -p or -f, not both");
        if (promptFile != null) {
            try {
                return Files.readString(promptFile);
            } catch (IOException e) {
                throw new UncheckedIOException("-f " + promptFile + ": " + e.getMessage(), e);
            }
        }
        if (prompt == null) throw new IllegalArgumentException("no prompt: give -p TEXT or -f FILE");
        return prompt;
    }
}
