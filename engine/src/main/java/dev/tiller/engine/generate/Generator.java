package dev.tiller.engine.generate;

import dev.tiller.engine.api.Session;
import dev.tiller.engine.sampling.Sampler;
import dev.tiller.engine.sampling.StopStringMatcher;
import dev.tiller.tokenizer.StreamingDecoder;
import dev.tiller.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * The generation loop: tokenize the prompt, prefill it in one pass, then sample and decode token by token until an
 * end-of-generation token, a stop string, the token limit or the end of the context.
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
        if (promptTokens.length == 0) throw new IllegalArgumentException("the prompt is empty (no tokens to condition on)");
        if (session.position() + promptTokens.length > session.contextSize()) {
            throw new IllegalArgumentException("the prompt has " + promptTokens.length + " tokens, more than the context size "
                    + session.contextSize() + " allows after " + session.position() + " cached tokens");
        }
        Sampler sampler = new Sampler(opts.sampler());
        int[] eog = tokenizer.endOfGenerationIds();
        // continuation: the text follows the prompt, so a leading SentencePiece space is kept
        StreamingDecoder decoder = tokenizer.newStreamingDecoder(false, true);
        StopStringMatcher stops = new StopStringMatcher(opts.stop());
        StringBuilder text = new StringBuilder();

        long t0 = System.nanoTime();
        float[] logits = session.prefill(promptTokens);
        long t1 = System.nanoTime();

        int[] history = session.tokens();
        int historyLen = history.length;
        int[] out = new int[16];
        int n = 0;
        String finish = "length";
        int vocab = session.model().config().vocabSize();
        while (opts.maxTokens() < 0 || n < opts.maxTokens()) {
            int token = sampler.sample(logits, vocab, history, historyLen);
            if (n == out.length) out = Arrays.copyOf(out, n * 2);
            out[n++] = token;
            if (historyLen == history.length) history = Arrays.copyOf(history, historyLen * 2 + 1);
            history[historyLen++] = token;
            if (!opts.ignoreEos() && contains(eog, token)) {
                finish = "stop";
                break;
            }
            StopStringMatcher.Result r = stops.feed(decoder.accept(token));
            emit(r.text(), text, listener);
            if (r.stopped()) {
                finish = "stop";
                break;
            }
            if (session.position() >= session.contextSize()) {
                finish = "context";
                break;
            }
            logits = session.decode(token);
        }
        if (!stops.stopped()) {
            // text held back as a possible stop-string prefix, or an incomplete UTF-8 tail, is emitted at the end
            StopStringMatcher.Result r = stops.feed(decoder.flush());
            emit(r.text(), text, listener);
            if (!r.stopped()) emit(stops.flush(), text, listener);
        }
        long t2 = System.nanoTime();
        return new Generation(text.toString(), promptTokens, Arrays.copyOf(out, n), finish, t1 - t0, t2 - t1);
    }

    private static void emit(String piece, StringBuilder text, TokenListener listener) {
        if (piece == null || piece.isEmpty()) return;
        text.append(piece);
        listener.onText(piece);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }
}
