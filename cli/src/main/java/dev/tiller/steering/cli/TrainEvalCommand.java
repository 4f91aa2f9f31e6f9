package dev.tiller.steering.cli;

import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.steering.Escapes;
import dev.tiller.steering.train.*;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code tiller train-eval -m MODEL --steer OUT.steer (--data DEV.jsonl | -p PROMPT)}: applies trained vectors on the
 * float engine (the interim apply path until {@code generate --steer} reads the project's steering file) and reports
 * greedy accuracy / worked answers / length on a data set, or prints one steered continuation.
 */
@Command(name = "train-eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Apply trained steering vectors: greedy accuracy on a data set, or one steered generation.")
public final class TrainEvalCommand implements Callable<Integer> {
    @Mixin ModelOptions model;
    @Option(names = "--steer", paramLabel = "OUT.steer", description = "trained vectors (omit for the unsteered model)") Path steer;
    @Option(names = "--data", paramLabel = "FILE.jsonl") Path data;
    @Option(names = {"-p", "--prompt"}) String prompt;
    @Option(names = "--limit", defaultValue = "200") int limit;
    @Option(names = {"-n", "--max-new"}, defaultValue = "64") int maxNew;
    @Option(names = "--prompt-template", defaultValue = "Q: {question}\\nA:") String template;
    @Option(names = "--reward", description = "also report the mean of this reward (answer, contains:W, maxlen:L, length:L)") String reward;
    @Option(names = "--stop", paramLabel = "STR", description = "end each generation at this string, e.g. '.' (repeatable; \\n for a newline)")
    List<String> stop = new java.util.ArrayList<>();
    @Option(names = "--show", defaultValue = "0", description = "print the first N generations") int show;
    @Option(names = "--samples", defaultValue = "0", description = "instead of greedy: N samples per row at --temp (base rates of a reward)") int samples;
    @Option(names = "--temp", defaultValue = "1.0") float temp;
    @Option(names = "--seed", defaultValue = "1") long seed;

    @Override
    public Integer call() {
        if ((data == null) == (prompt == null)) throw new IllegalArgumentException("give --data or -p");
        try (Model m = model.load()) {
            List<String> stops = stop.stream().map(Escapes::unescape).toList();
            SteeringParams p = steer == null ? null : SteeringStore.load(steer, m).params();
            if (prompt != null) {
                Generation g = SteeredEvaluator.generate(m, p, Escapes.unescape(prompt), GenerationOptions.greedy(maxNew).withStop(stops));
                System.out.println(g.text());
                return 0;
            }
            List<TrainData.Row> rows = TrainData.read(data, Escapes.unescape(template), limit);
            for (int i = 0; i < Math.min(show, rows.size()); i++) {
                Generation g = SteeredEvaluator.generate(m, p, rows.get(i).prompt(), GenerationOptions.greedy(maxNew).withStop(stops));
                System.out.println("[" + i + "] " + g.text().replace("\n", "\\n"));
            }
            if (samples > 0) {
                System.out.println("sampled (" + samples + " per row, temperature " + temp + "): "
                        + SteeredEvaluator.sampled(m, p, rows, maxNew, stops, temp, samples, seed, reward == null ? null : Rewards.parse(reward)));
                return 0;
            }
            SteeredEvaluator.Result r = SteeredEvaluator.evaluate(m, p, rows, maxNew, stops, reward == null ? null : Rewards.parse(reward));
            System.out.println(r);
            return 0;
        }
    }
}
