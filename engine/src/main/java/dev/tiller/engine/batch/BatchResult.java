package dev.tiller.engine.batch;

import dev.tiller.loader.ArrayText;

/**
 * The outcome of one request.
 *
 * @param tokens          generated token ids (including the end-of-generation token when one ended it)
 * @param finishReason    {@code stop} (end-of-generation token or stop string), {@code length}, {@code context}, or
 *                        {@code error} (then {@code error} says why and nothing was generated)
 * @param thinkingTokens  tokens between {@code <think>} and {@code </think>} (0 when the model did not think)
 * @param firstTokenMs    milliseconds from admission into the running batch to the first sampled token
 * @param totalMs         milliseconds from admission to the end
 */
public record BatchResult(String id, String text, int[] tokens, String finishReason, int promptTokens, int completionTokens,
                          int thinkingTokens, double firstTokenMs, double totalMs, String error) {

    @Override
    public String toString() {
        return String.format(java.util.Locale.ROOT, "BatchResult[id=%s, text=\"%s\", tokens=%s, finishReason=%s, promptTokens=%d, completionTokens=%d, "
                        + "thinkingTokens=%d, firstTokenMs=%.2f, totalMs=%.2f%s]", id, text, ArrayText.of(tokens), finishReason, promptTokens,
                completionTokens, thinkingTokens, firstTokenMs, totalMs, error == null ? "" : ", error=" + error);
    }

    public static BatchResult error(String id, String message) {
        return new BatchResult(id, "", new int[0], "error", 0, 0, 0, 0, 0, message);
    }

    public BatchResult withId(String newId) {
        return new BatchResult(newId, text, tokens, finishReason, promptTokens, completionTokens, thinkingTokens, firstTokenMs, totalMs, error);
    }

    public boolean isError() {
        return error != null;
    }
}
