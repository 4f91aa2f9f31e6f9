package dev.tiller.engine.thinking;

/**
 * Temperature scaling of one binary decision inside a softmax: token {@code x} against all others. With
 * {@code Z} the summed probability mass of the other tokens (in logit space, {@code log Z = logsumexp(others)}), the
 * log-odds of {@code x} are {@code l_x - log Z}; scaling them by {@code s} (= dividing by a decision temperature
 * {@code T = 1/s}) and adding {@code bias} gives {@code l_x' = log Z + s (l_x - log Z) + bias}. The others keep their
 * relative probabilities. {@code s = 1, bias = 0} is the identity; {@code s < 1} pulls the decision towards 50/50
 * (for a rare token: makes it likelier); {@code s > 1} sharpens it.
 */
public final class LogOdds {

    public static void scale(float[] logits, int offset, int vocab, int token, double scale, double bias) {
        if (scale == 1.0 && bias == 0.0) return;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) if (i != token) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) if (i != token) sum += Math.exp(logits[offset + i] - max);
        double logZ = max + Math.log(sum);
        double lx = logits[offset + token];
        if (lx == Double.NEGATIVE_INFINITY) return; // a banned token stays banned
        logits[offset + token] = (float) (logZ + scale * (lx - logZ) + bias);
    }

    /** The probability of {@code token} under the softmax of the row (for reports and tests). */
    public static double probability(float[] logits, int offset, int vocab, int token) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
        return Math.exp(logits[offset + token] - max) / sum;
    }

    private LogOdds() {}
}
