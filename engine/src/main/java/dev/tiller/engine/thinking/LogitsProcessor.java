package dev.tiller.engine.thinking;

/**
 * Changes a sequence's next-token distribution during generation: {@link #process} edits the logits row before the
 * sampler sees it, {@link #accept} sees the sampled token and may put another in its place (to force a token or a
 * run of tokens). One instance per generated sequence; processors hold that sequence's state.
 */
public interface LogitsProcessor {

    /** Called once with the prompt's token ids, before the first step. */
    default void start(int[] promptTokens) {}

    /**
     * @param logits the row is {@code logits[offset .. offset + vocab)}; edit in place
     * @param step   how many tokens this sequence has generated so far
     */
    void process(float[] logits, int offset, int vocab, int step);

    /** The token actually emitted for this step; {@code sampled} unless the processor overrides it. */
    default int accept(int sampled, int step) {
        return sampled;
    }
}
