package dev.tiller.steering.train;

import dev.tiller.kernels.Parallel;

/**
 * Losses on rows of logits, each returning the loss and writing dLoss/dLogits. Rows are [rows][vocab] row-major; a
 * loss is the mean over its rows (weights let callers scale rows, e.g. advantages). Rows are independent, so each
 * loss runs its rows in parallel on the worker pool, keeping each row's term and summing the terms in row order
 * afterwards: the result does not depend on the thread count.
 */
public final class Losses {

    /** A loss's term for rows [from, to), written to terms[r]; lp is a vocab-sized scratch of the calling task. */
    private interface RowTerms {
        void run(int from, int to, double[] lp, double[] terms);
    }

    /** Runs body over the rows in parallel and returns Σ terms[r] in row order. */
    private static double sumRows(int rows, int vocab, RowTerms body) {
        double[] terms = new double[rows];
        Parallel.forRange(rows, CpuDoubleOps.minRows(vocab), (from, to) -> body.run(from, to, new double[vocab], terms));
        double sum = 0;
        for (double t : terms) sum += t;
        return sum;
    }

    /** log-softmax of one row into out. */
    static void logSoftmax(double[] z, int off, int vocab, double[] out) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) max = Math.max(max, z[off + i]);
        double sum = 0;
        for (int i = 0; i < vocab; i++) sum += Math.exp(z[off + i] - max);
        double lse = max + Math.log(sum);
        for (int i = 0; i < vocab; i++) out[i] = z[off + i] - lse;
    }

    /**
     * Σ_r weight[r] · (−log p_r(target[r])) / norm. dLogits[r] = weight[r] (softmax − onehot) / norm.
     * With weight = advantages this is the policy-gradient (REINFORCE/GRPO) surrogate.
     */
    public static double weightedNll(double[] logits, int[] target, double[] weight, int rows, int vocab, double norm, double[] dLogits) {
        double loss = sumRows(rows, vocab, (from, to, lp, terms) -> {
            for (int r = from; r < to; r++) {
                int o = r * vocab;
                logSoftmax(logits, o, vocab, lp);
                double wr = weight == null ? 1 : weight[r];
                terms[r] = -wr * lp[target[r]];
                for (int i = 0; i < vocab; i++) dLogits[o + i] += wr * Math.exp(lp[i]) / norm;
                dLogits[o + target[r]] -= wr / norm;
            }
        });
        return loss / norm;
    }

    /** Mean token entropy H = −Σ p log p over rows; dH/dz_i = −p_i (log p_i + H). */
    public static double meanEntropy(double[] logits, int rows, int vocab, double[] dLogits) {
        double total = sumRows(rows, vocab, (from, to, lp, terms) -> {
            for (int r = from; r < to; r++) {
                int o = r * vocab;
                logSoftmax(logits, o, vocab, lp);
                double h = 0;
                for (int i = 0; i < vocab; i++) h -= Math.exp(lp[i]) * lp[i];
                terms[r] = h;
                for (int i = 0; i < vocab; i++) dLogits[o + i] += -Math.exp(lp[i]) * (lp[i] + h) / rows;
            }
        });
        return total / rows;
    }

    /**
     * KL(π_θ ‖ π_ref) estimated per sampled token with Schulman's k3 = exp(ref − lp) − (ref − lp) − 1, ≥ 0, mean over
     * rows times beta. d k3 / d lp = 1 − exp(ref − lp); d lp / d z = onehot − softmax.
     */
    public static double k3Kl(double[] logits, int[] target, double[] refLogProb, int rows, int vocab, double beta, double[] dLogits) {
        double total = sumRows(rows, vocab, (from, to, lp, terms) -> {
            for (int r = from; r < to; r++) {
                int o = r * vocab;
                logSoftmax(logits, o, vocab, lp);
                double d = refLogProb[r] - lp[target[r]];
                terms[r] = Math.exp(d) - d - 1;
                double g = beta * (1 - Math.exp(d)) / rows;       // d loss / d lp
                for (int i = 0; i < vocab; i++) dLogits[o + i] -= g * Math.exp(lp[i]);
                dLogits[o + target[r]] += g;
            }
        });
        return beta * total / rows;
    }

    // ---- the same losses on logits where a backend holds them (DiffOps): what training runs ----

    /** {@link #weightedNll} on a backend: dLogits (there) += dLoss/dLogits. */
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

    /** {@link #meanEntropy} on a backend. */
    public static double meanEntropy(DiffOps ops, DiffOps.Buf logits, int rows, int vocab, DiffOps.Buf dLogits) {
        double[] coef = new double[rows];
        java.util.Arrays.fill(coef, 1.0 / rows);
        double total = 0;
        for (double h : ops.entropies(logits, rows, vocab, coef, dLogits)) total += h;
        return total / rows;
    }

    /** {@link #k3Kl} on a backend, given the sampled tokens' log-probabilities under the reference. */
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

    public static double logProb(double[] logits, int row, int vocab, int token) {
        double[] lp = new double[vocab];
        logSoftmax(logits, row * vocab, vocab, lp);
        return lp[token];
    }

    private Losses() {}
}
