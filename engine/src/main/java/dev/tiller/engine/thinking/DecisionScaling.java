package dev.tiller.engine.thinking;

/**
 * Scales the log-odds of one token (see {@link LogOdds}) at one decision point of the answer: the step right after
 * {@code prefix} was generated (an empty prefix: the first answer position). E.g. for arith answers, after the space
 * token the model chooses between {@code #} of {@code " ####"} (a bare answer) and a digit (a worked one).
 */
public final class DecisionScaling implements LogitsProcessor {
    private final int[] prefix;
    private final int token;
    private final double scale;
    private final double bias;
    private boolean matched = true;

    public DecisionScaling(int[] prefix, int token, double scale, double bias) {
        if (!Double.isFinite(scale) || !Double.isFinite(bias)) throw new IllegalArgumentException("decision scale and bias must be finite");
        this.prefix = prefix.clone();
        this.token = token;
        this.scale = scale;
        this.bias = bias;
    }

    @Override
    public void process(float[] logits, int offset, int vocab, int step) {
        if (matched && step == prefix.length && token < vocab) LogOdds.scale(logits, offset, vocab, token, scale, bias);
    }

    @Override
    public int accept(int sampled, int step) {
        if (step < prefix.length && sampled != prefix[step]) matched = false;
        return sampled;
    }

    public int[] prefix() {
        return prefix.clone();
    }

    public int token() {
        return token;
    }
}
