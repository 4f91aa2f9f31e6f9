package dev.tiller.engine.thinking;

/**
 * Scales the log-odds of one token (see {@link LogOdds}) at generation steps {@code [fromStep, toStep)} — e.g. the
 * first token of {@code " ####"} at the first answer position, which decides between a bare answer and a worked one.
 */
public final class DecisionScaling implements LogitsProcessor {
    private final int token;
    private final double scale;
    private final double bias;
    private final int fromStep;
    private final int toStep;

    public DecisionScaling(int token, double scale, double bias, int fromStep, int toStep) {
        if (!Double.isFinite(scale) || !Double.isFinite(bias)) throw new IllegalArgumentException("decision scale and bias must be finite");
        this.token = token;
        this.scale = scale;
        this.bias = bias;
        this.fromStep = fromStep;
        this.toStep = toStep;
    }

    @Override
    public void process(float[] logits, int offset, int vocab, int step) {
        if (step >= fromStep && step < toStep && token < vocab) LogOdds.scale(logits, offset, vocab, token, scale, bias);
    }
}
