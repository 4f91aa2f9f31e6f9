package dev.tiller.steering.train;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;

import java.util.List;

/**
 * Greedy evaluation with trained steering vectors installed as hooks (accuracy, worked answers, length), for
 * {@code tiller train} and {@code train-eval}. The engine's {@link dev.tiller.engine.eval.Evaluator} is the GSM8K harness of
 * {@code tiller eval}.
 */
public final class SteeredEvaluator {
    public record Result(int n, double accuracy, double worked, double meanTokens, double meanReward, double meanEntropy) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "n=%d accuracy=%.1f%% worked=%.1f%% mean_tokens=%.1f mean_reward=%.3f mean_entropy=%.4f",
                    n, 100 * accuracy, 100 * worked, meanTokens, meanReward, meanEntropy);
        }
    }

    /** Text generated greedily for one prompt with the vectors (null: unsteered). */
    public static Generation generate(Model model, SteeringParams p, String prompt, GenerationOptions opts) {
        Session s = model.newSession(Math.min(model.config().contextLength(), 4096));
        if (p != null) p.install(s.installHooks());
        int[] toks = model.tokenizer().encode(prompt, true, false);
        if (p != null) toks = p.withPlaceholders(toks);
        return new Generator(s).generate(toks, opts, piece -> {});
    }

    public static Result evaluate(Model model, SteeringParams p, List<TrainData.Row> rows, int maxNew, Rewards.Reward reward) {
        return evaluate(model, p, rows, maxNew, List.of(), reward);
    }

    /** As above; generation also ends at any of the {@code stop} strings (the token that completes one is kept). */
    public static Result evaluate(Model model, SteeringParams p, List<TrainData.Row> rows, int maxNew, List<String> stop, Rewards.Reward reward) {
        try (DiffTransformer dt = DiffTransformer.of(model)) {
            return evaluate(model, dt, p, rows, maxNew, stop, reward);
        }
    }

    private static Result evaluate(Model model, DiffTransformer dt, SteeringParams p, List<TrainData.Row> rows, int maxNew, List<String> stop,
                                   Rewards.Reward reward) {
        int correct = 0, worked = 0, labelled = 0;
        long tokens = 0;
        double rewardSum = 0, entropySum = 0;
        long entropyRows = 0;
        SteeringParams none = new SteeringParams(model.config().dim(), model.config().layers(), null, new int[0], 0);
        int V = model.config().vocabSize();
        for (TrainData.Row r : rows) {
            Generation g = generate(model, p, r.prompt(), GenerationOptions.greedy(maxNew).withStop(stop));
            tokens += g.tokens().length;
            if (g.tokens().length > 0) {
                // mean entropy of the (steered) next-token distributions along the greedy generation
                int[] prompt = model.tokenizer().encode(r.prompt(), true, false);
                int[] seq = java.util.Arrays.copyOf(prompt, prompt.length + g.tokens().length);
                System.arraycopy(g.tokens(), 0, seq, prompt.length, g.tokens().length);
                boolean[] want = new boolean[seq.length];
                for (int i = prompt.length - 1; i < seq.length - 1; i++) want[i] = true;
                try (var pass = dt.forward(List.of(new DiffTransformer.Sequence(seq, want)), p == null ? none : p, null)) {
                    int rowsOut = pass.logitRows();
                    for (double h : dt.ops().entropies(pass.logitsBuffer(), rowsOut, V, null, null)) entropySum += h;
                    entropyRows += rowsOut;
                }
            }
            String text = g.text();
            if (r.label() != null) {
                labelled++;
                if (r.label().equals(Rewards.finalAnswer(text))) correct++;
            }
            int hash = text.indexOf("####");
            if (text.substring(0, hash < 0 ? text.length() : hash).contains("=")) worked++;
            if (reward != null) rewardSum += reward.score(text, g.tokens().length, r);
        }
        int n = rows.size();
        return new Result(n, labelled == 0 ? Double.NaN : correct / (double) labelled, worked / (double) n, tokens / (double) n, rewardSum / n,
                entropyRows == 0 ? Double.NaN : entropySum / entropyRows);
    }

    /**
     * Sampled (not greedy) statistics: {@code n} samples per row at temperature {@code temp}; the share of samples
     * that are correct / worked, mean length and mean reward — the base rates that decide whether a GRPO reward has
     * signal (a group has variance only when some but not all samples earn it).
     */
    public static String sampled(Model model, SteeringParams p, List<TrainData.Row> rows, int maxNew, List<String> stop, float temp, int n, long seed,
                                 Rewards.Reward reward) {
        int correct = 0, worked = 0, labelled = 0, total = 0, groupsWithVariance = 0;
        long tokens = 0;
        double rewardSum = 0;
        for (TrainData.Row r : rows) {
            double[] rw = new double[n];
            for (int i = 0; i < n; i++) {
                var sc = new dev.tiller.engine.sampling.SamplerConfig(temp, 0, 1f, 0f, 1f, 0, 0f, 0f, seed * 7919 + total);
                Generation g = generate(model, p, r.prompt(), new GenerationOptions(sc, maxNew, stop, true, false, false));
                String text = g.text();
                total++;
                tokens += g.tokens().length;
                if (r.label() != null) {
                    labelled++;
                    if (r.label().equals(Rewards.finalAnswer(text))) correct++;
                }
                int hash = text.indexOf("####");
                if (text.substring(0, hash < 0 ? text.length() : hash).contains("=")) worked++;
                if (reward != null) rewardSum += rw[i] = reward.score(text, g.tokens().length, r);
            }
            if (reward != null && Trainer.groupAdvantages(rw) != null) groupsWithVariance++;
        }
        return String.format(java.util.Locale.ROOT, "samples=%d accuracy=%s worked=%.1f%% mean_tokens=%.1f%s", total,
                labelled == 0 ? "n/a" : String.format(java.util.Locale.ROOT, "%.1f%%", 100.0 * correct / labelled), 100.0 * worked / total,
                tokens / (double) total, reward == null ? "" : String.format(java.util.Locale.ROOT, " mean_reward=%.3f groups_with_reward_variance=%d/%d",
                        rewardSum / total, groupsWithVariance, rows.size()));
    }

    private SteeredEvaluator() {}
}
