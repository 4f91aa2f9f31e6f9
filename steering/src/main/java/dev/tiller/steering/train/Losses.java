package dev.tiller.steering.train;

/**
 * The training objectives' losses on rows of logits ([rows][vocab] row-major) where a backend holds them: each returns
 * the loss and adds dLoss/dLogits into the backend's dLogits. A loss is the mean over its rows (weights let callers
 * scale rows, e.g. advantages). They are written with the backend's three row ops ({@link DiffOps#logProbs},
 * {@link DiffOps#addLogProbGradient}, {@link DiffOps#entropies}); the per-row numbers come back to the host and are
 * summed in row order, so a result does not depend on the thread count.
 */
public final class Losses {

    /**
     * Σ_r weight[r] · (−log p_r(target[r])) / norm (weight null: 1); dLogits[r] += weight[r] (softmax − onehot) / norm.
     * With weight = advantages this is the policy-gradient (REINFORCE/GRPO) surrogate.
     */
    public static double weightedNll(DiffOps ops, DiffOps.Buf logits, int[] target, double[] weight, int rows, int vocab, double norm,
                                     DiffOps.Buf dLogits) {
        double[] lp = ops.logProbs(logits, rows, vocab, target);
        double[] coef = new double[rows];
        double loss = 0;
        for (int r = 0; r < rows; r++) {
            double wr = weight == null ? 1 : weight[r];
            loss += -wr * lp[r];
            coef[r] = -wr / norm;      // d(−w·lp/norm)/d lp
        }
        ops.addLogProbGradient(dLogits, logits, rows, vocab, target, coef);
        return loss / norm;
    }

    /** Mean token entropy H = −Σ p log p over rows; dLogits[r] += −p (log p + H_r) / rows. */
    public static double meanEntropy(DiffOps ops, DiffOps.Buf logits, int rows, int vocab, DiffOps.Buf dLogits) {
        double[] coef = new double[rows];
        java.util.Arrays.fill(coef, 1.0 / rows);
        double total = 0;
        for (double h : ops.entropies(logits, rows, vocab, coef, dLogits)) total += h;
        return total / rows;
    }

    /**
     * β times the mean over rows of Schulman's k3 estimate of KL(π_θ ‖ π_ref) per sampled token, k3 = exp(ref − lp) −
     * (ref − lp) − 1 ≥ 0, given the sampled tokens' log-probabilities under the reference; d k3 / d lp = 1 − exp(ref − lp).
     */
    public static double k3Kl(DiffOps ops, DiffOps.Buf logits, int[] target, double[] refLogProb, int rows, int vocab, double beta,
                              DiffOps.Buf dLogits) {
        double[] lp = ops.logProbs(logits, rows, vocab, target);
        double[] coef = new double[rows];
        double total = 0;
        for (int r = 0; r < rows; r++) {
            double d = refLogProb[r] - lp[r];
            total += Math.exp(d) - d - 1;
            coef[r] = beta * (1 - Math.exp(d)) / rows;       // d loss / d lp
        }
        ops.addLogProbGradient(dLogits, logits, rows, vocab, target, coef);
        return beta * total / rows;
    }

    private Losses() {}
}
