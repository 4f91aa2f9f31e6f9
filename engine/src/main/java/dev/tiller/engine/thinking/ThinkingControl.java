package dev.tiller.engine.thinking;

/**
 * Thinking-length control for models that think between {@code <think>} and {@code </think>} (Qwen3, DeepSeek-R1):
 * <ul>
 *   <li>{@code endScale}: while thinking, the log-odds of {@code </think>} are multiplied by it (temperature scaling
 *       of the end-of-thinking decision, T = 1/endScale; see {@link LogOdds}): below 1 a model that rarely stops
 *       stops sooner, above 1 it thinks longer;</li>
 *   <li>{@code budget}: budget forcing (s1) — after this many thinking tokens {@code </think>} is forced;</li>
 *   <li>{@code minTokens}: an end of thinking sampled before this many thinking tokens is replaced by {@code wait}
 *       (s1's "Wait"), so the model goes on thinking;</li>
 *   <li>{@code open}: the answer starts with {@code <think>\n} forced (for prompts that do not open thinking).</li>
 * </ul>
 * Null fields are off.
 */
public record ThinkingControl(Double endScale, Integer budget, Integer minTokens, String waitText, Boolean open) {

    public ThinkingControl {
        if (endScale != null && !Double.isFinite(endScale)) throw new IllegalArgumentException("thinking.end_scale must be finite");
        if (budget != null && budget < 0) throw new IllegalArgumentException("thinking.budget must be >= 0, got " + budget);
        if (minTokens != null && minTokens < 0) throw new IllegalArgumentException("thinking.min must be >= 0, got " + minTokens);
    }

    public static ThinkingControl scaled(double endScale) {
        return new ThinkingControl(endScale, null, null, null, null);
    }

    public String waitOrDefault() {
        return waitText == null ? "Wait" : waitText;
    }

    public boolean opens() {
        return open != null && open;
    }
}
