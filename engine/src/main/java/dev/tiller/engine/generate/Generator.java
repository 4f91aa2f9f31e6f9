package dev.tiller.engine.generate;

import dev.tiller.engine.api.Session;
import dev.tiller.engine.thinking.LogitsProcessor;
import dev.tiller.tokenizer.Tokenizer;

import java.util.List;

/**
 * The generation loop: tokenize the prompt, prefill it in one pass, then sample and decode token by token until an
 * end-of-generation token, a stop string, the token limit or the end of the context. The per-token decisions are a
 * {@link DecodeState}'s, the same that {@code BatchEngine} uses for each of its sequences.
 */
public final class Generator {
    private final Session session;
    private final Tokenizer tokenizer;

    public Generator(Session session) {
        this.session = session;
        this.tokenizer = session.model().tokenizer();
    }

    public Generation generate(String prompt, GenerationOptions opts, TokenListener listener) {
        int[] promptTokens = tokenizer.encode(prompt, opts.addSpecial(), opts.parseSpecial());
        return generate(promptTokens, opts, listener);
    }

    public Generation generate(int[] promptTokens, GenerationOptions opts, TokenListener listener) {
        return generate(promptTokens, opts, List.of(), listener);
    }

    /**
     * @param processors logits processors for this one generation (they hold its state, so fresh ones each call),
     *                   e.g. a {@link dev.tiller.engine.thinking.ThinkingProcessor}
     */
    public Generation generate(int[] promptTokens, GenerationOptions opts, List<LogitsProcessor> processors, TokenListener listener) {
        if (promptTokens.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens to condition on)");
        if (session.position() + promptTokens.length > session.contextSize()) {
            throw new IllegalArgumentException("the prompt has " + promptTokens.length + " tokens, more than the context size "
                    + session.contextSize() + " allows after " + session.position() + " cached tokens");
        }
        int[] cached = session.tokens();
        int[] context = java.util.Arrays.copyOf(cached, cached.length + promptTokens.length);
        System.arraycopy(promptTokens, 0, context, cached.length, promptTokens.length);
        // built before the prefill, so that bad options (an empty stop string) fail before the session changes
        DecodeState state = new DecodeState(tokenizer, opts.sampler(), opts.stop(), opts.maxTokens(), opts.ignoreEos(),
                processors, context, listener);
        int vocab = session.model().config().vocabSize();

        long t0 = System.nanoTime();
        float[] logits = session.prefill(promptTokens);
        long t1 = System.nanoTime();

        int token = state.ended() ? -1 : state.next(logits, 0, vocab);
        while (!state.ended()) {
            if (state.accept(token)) break;
            if (session.position() >= session.contextSize()) {
                state.end("context");
                break;
            }
            // decided each step: a greedy step with nothing else reading the row takes only the argmax, which a GPU
            // computes on the device (one id copied instead of the row); any other step gets the whole row
            token = state.greedyOnly() ? state.nextGreedy(session.decodeArgmax(token)) : state.next(session.decode(token), 0, vocab);
        }
        long t2 = System.nanoTime();
        return new Generation(state.text(), promptTokens, state.tokens(), state.finishReason(), t1 - t0, t2 - t1);
    }
}
