package dev.tiller.steering;

import dev.tiller.engine.hooks.Activations;

import java.util.HashMap;
import java.util.Map;

/**
 * Remembers each sequence's prompt length: the prompt is what the forward pass that evaluates position 0 of a
 * sequence evaluates (a {@link dev.tiller.engine.api.Session#prefill} of the prompt). Hooks call {@link #observe}
 * before they filter positions; a later pass that starts a sequence over at position 0 starts a new prompt.
 * Callers that feed the prompt in pieces set the length themselves with {@link #setPromptLength}.
 */
public final class PromptTracker {
    private final Map<Integer, Integer> lengths = new HashMap<>();
    private final Map<Integer, Integer> fixed = new HashMap<>();

    /** Fixes a sequence's prompt length, overriding what {@link #observe} would infer. */
    public void setPromptLength(int sequence, int length) {
        fixed.put(sequence, length);
    }

    public void observe(Activations a) {
        for (int t = 0; t < a.tokens(); t++) {
            if (a.position(t) != 0) continue;
            int seq = a.sequence(t);
            int last = 0;
            for (int u = t; u < a.tokens(); u++) if (a.sequence(u) == seq) last = Math.max(last, a.position(u));
            lengths.put(seq, last + 1);
        }
    }

    /** The prompt length of a sequence, or {@link Integer#MAX_VALUE} if none was seen (everything counts as prompt). */
    public int promptLength(int sequence) {
        Integer f = fixed.get(sequence);
        if (f != null) return f;
        Integer n = lengths.get(sequence);
        return n == null ? Integer.MAX_VALUE : n;
    }
}
