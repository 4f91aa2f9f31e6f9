package dev.tiller.steering.train;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;

import java.util.List;

/** Greedy evaluation on the float engine with the vectors installed as hooks: accuracy, worked answers, length. */
public final class Evaluator {
    public record Result(int n, double accuracy, double worked, double meanTokens, double meanReward) {
        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "n=%d accuracy=%.1f%% worked=%.1f%% mean_tokens=%.1f mean_reward=%.3f",
                    n, 100 * accuracy, 100 * worked, meanTokens, meanReward);
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
        int correct = 0, worked = 0, labelled = 0;
        long tokens = 0;
        double rewardSum = 0;
        for (TrainData.Row r : rows) {
            Generation g = generate(model, p, r.prompt(), GenerationOptions.greedy(maxNew));
            tokens += g.tokens().length;
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
        return new Result(n, labelled == 0 ? Double.NaN : correct / (double) labelled, worked / (double) n, tokens / (double) n, rewardSum / n);
    }

    private Evaluator() {}
}
