package dev.tiller.engine.batch;

import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;

import java.util.List;

/**
 * One request of a batch job: OpenAI-like fields. Null means "the job's default" for every optional field.
 *
 * @param id        unique within a job; results carry it, and a resumed job skips ids already in the output
 * @param prompt    raw text (tokenized with BOS where the model wants one), or null when {@code messages} is given
 * @param messages  chat messages, rendered with the model's chat template and a generation prompt
 * @param steer     steering specs for this request alone: {@code path[:scale]} of a llama.cpp control vector (or any
 *                  form a {@link SteeringResolver} on the class path understands)
 * @param thinking  thinking-length control (end-of-thinking logit scaling, budget forcing), or null
 * @param line      1-based line (or record) number in the input, for messages
 */
public record BatchRequest(String id, String prompt, List<ChatMessage> messages, Integer maxTokens, Float temperature,
                           Float topP, Integer topK, Float minP, Long seed, List<String> stop, List<String> steer,
                           ThinkingControl thinking, long line) {

    public BatchRequest {
        stop = stop == null ? List.of() : List.copyOf(stop);
        steer = steer == null ? List.of() : List.copyOf(steer);
        messages = messages == null ? null : List.copyOf(messages);
    }

    /** A plain-prompt request with job defaults for everything else. */
    public static BatchRequest ofPrompt(String id, String prompt) {
        return new BatchRequest(id, prompt, null, null, null, null, null, null, null, null, null, null, 0);
    }

    public BatchRequest withMaxTokens(Integer n) {
        return new BatchRequest(id, prompt, messages, n, temperature, topP, topK, minP, seed, stop, steer, thinking, line);
    }

    public BatchRequest withTemperature(Float t) {
        return new BatchRequest(id, prompt, messages, maxTokens, t, topP, topK, minP, seed, stop, steer, thinking, line);
    }

    public BatchRequest withSeed(Long s) {
        return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, s, stop, steer, thinking, line);
    }

    public BatchRequest withSteer(List<String> s) {
        return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, stop, s, thinking, line);
    }

    public BatchRequest withStop(List<String> s) {
        return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, s, steer, thinking, line);
    }

    public BatchRequest withThinking(ThinkingControl t) {
        return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, stop, steer, t, line);
    }

    public BatchRequest withId(String newId) {
        return new BatchRequest(newId, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, stop, steer, thinking, line);
    }

    public BatchRequest withLine(long l) {
        return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, stop, steer, thinking, l);
    }
}
