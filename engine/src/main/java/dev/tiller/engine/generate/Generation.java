package dev.tiller.engine.generate;

import dev.tiller.loader.ArrayText;

/**
 * The outcome of one generation.
 *
 * @param text         the generated text (without the prompt, without a matched stop string)
 * @param promptTokens the prompt's token ids as evaluated
 * @param tokens       the generated token ids (including the end-of-generation token, if one ended it)
 * @param finishReason {@code stop} (EOS or a stop string), {@code length} (max tokens) or {@code context} (context full)
 */
public record Generation(String text, int[] promptTokens, int[] tokens, String finishReason, long promptNanos, long generateNanos) {

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "Generation[text=\"%s\", promptTokens=%s, tokens=%s, finishReason=%s, prompt %.1f ms (%.1f tok/s), "
                        + "generation %.1f ms (%.1f tok/s)]", text, ArrayText.of(promptTokens), ArrayText.of(tokens), finishReason,
                promptNanos / 1e6, promptTokensPerSecond(), generateNanos / 1e6, generatedTokensPerSecond());
    }

    public double promptTokensPerSecond() {
        return promptTokens.length / Math.max(1e-9, promptNanos / 1e9);
    }

    public double generatedTokensPerSecond() {
        return tokens.length / Math.max(1e-9, generateNanos / 1e9);
    }
}
