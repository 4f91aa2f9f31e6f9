package dev.tiller.engine.generate;

import dev.tiller.engine.sampling.Sampler;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.engine.sampling.StopStringMatcher;
import dev.tiller.engine.thinking.LogitsProcessor;
import dev.tiller.engine.thinking.ThinkingProcessor;
import dev.tiller.tokenizer.StreamingDecoder;
import dev.tiller.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * What one sequence carries from token to token while it decodes, whoever runs the forward passes: its sampler (and
 * so its random stream), logits processors (thinking control among them), the token history the sampler's penalties
 * look at, the streamed text with stop strings held back, and why it ended. {@link Generator} drives one for a
 * session; {@code BatchEngine} drives one per slot, so a request decodes the same alone or batched.
 *
 * <p>Each step: {@link #next} picks a token from this sequence's logits row, {@link #accept} takes it and says
 * whether the sequence has ended (end-of-generation token, stop string, token limit). The caller, who knows the
 * KV cache, ends it with {@link #end}{@code ("context")} when the context is full.
 */
public final class DecodeState {
    private static final LogitsProcessor[] NO_PROCESSORS = {};

    private final Tokenizer tokenizer;
    private final Sampler sampler;
    private final LogitsProcessor[] processors;
    private final int maxTokens;
    private final boolean ignoreEos;
    private final TokenListener listener;
    // continuation: the text follows the prompt, so a leading SentencePiece space is kept
    private final StreamingDecoder decoder;
    private final StopStringMatcher stops;
    private final StringBuilder text = new StringBuilder();
    private final int contextLength;
    private int[] history;
    private int historyLen;
    private String finishReason;

    /**
     * @param context    every token the sequence has seen before its first generated token (cached turns and the
     *                   prompt), oldest first: the sampler's penalty window and the processors' start
     * @param maxTokens  the most tokens to generate; negative: no limit (the context ends it)
     * @param processors this sequence's own processors, applied in order; a {@link ThinkingProcessor} among them
     *                   also counts the thinking tokens
     * @param listener   receives the text as it becomes safe to show
     */
    public DecodeState(Tokenizer tokenizer, SamplerConfig sampler, List<String> stop, int maxTokens, boolean ignoreEos,
                       List<LogitsProcessor> processors, int[] context, TokenListener listener) {
        this.tokenizer = tokenizer;
        this.stops = new StopStringMatcher(stop);
        this.sampler = new Sampler(sampler);
        this.processors = processors.isEmpty() ? NO_PROCESSORS : processors.toArray(LogitsProcessor[]::new);
        this.maxTokens = maxTokens;
        this.ignoreEos = ignoreEos;
        this.listener = listener;
        this.decoder = tokenizer.newStreamingDecoder(false, true);
        this.contextLength = context.length;
        this.history = Arrays.copyOf(context, context.length + Math.max(16, Math.min(maxTokens, 4096)));
        this.historyLen = context.length;
        for (LogitsProcessor p : this.processors) p.start(context);
        if (maxTokens == 0) end("length");
    }

    /**
     * The next token from this sequence's row {@code logits[offset .. offset + vocab)}: the processors edit the row in
     * place, the sampler draws, and a processor may put another token in the drawn one's place.
     */
    public int next(float[] logits, int offset, int vocab) {
        int step = generated();
        for (LogitsProcessor p : processors) p.process(logits, offset, vocab, step);
        int token = sampler.sample(logits, offset, vocab, history, historyLen);
        for (LogitsProcessor p : processors) token = p.accept(token, step);
        return token;
    }

    /**
     * Whether this step's token is just the argmax of the row: a greedy sampler without penalties and no logits
     * processors (they edit the row and may replace the token). A caller may then have the forward pass return only the
     * argmax ({@link dev.tiller.engine.model.ForwardPass#forward(dev.tiller.engine.model.Batch, dev.tiller.engine.hooks.Hooks,
     * float[], int, boolean[], int[])}), so that a GPU copies one id instead of the row, and pass it to
     * {@link #nextGreedy}. Asked every step; today its answer does not change during a sequence.
     */
    public boolean greedyOnly() {
        return processors.length == 0 && sampler.greedy();
    }

    /** The next token when {@link #greedyOnly}: the row's argmax, computed wherever the row is; what {@link #next} gives. */
    public int nextGreedy(int argmax) {
        if (!greedyOnly()) throw new IllegalStateException("this sequence samples from the whole row (not greedy, penalties or processors)");
        return argmax;
    }

    /**
     * Whether this step's token is a plain temperature draw from the row (see {@link Sampler#temperatureOnly}) with no
     * logits processors: a caller may then have the forward pass draw it where the row is, as a {@link
     * dev.tiller.engine.sampling.GumbelMax} pick with {@link #drawKey()}, and pass the id to {@link #nextDrawn}.
     */
    public boolean drawOnly() {
        return processors.length == 0 && sampler.temperatureOnly();
    }

    /** This step's {@link dev.tiller.engine.sampling.GumbelMax} key (advances the sampler's stream). */
    public long drawKey() {
        return sampler.nextKey();
    }

    /** 1 / temperature, for the pick. */
    public float inverseTemperature() {
        return 1f / sampler.config().temperature();
    }

    /** The next token when {@link #drawOnly}: the pick made with this step's key. */
    public int nextDrawn(int token) {
        if (!drawOnly()) throw new IllegalStateException("this sequence does not draw plain temperature samples (penalties, truncation or processors)");
        return token;
    }

    /**
     * Takes the token chosen for this step: records it, streams its text, and checks whether it ended the sequence.
     *
     * @return true when the sequence has ended (see {@link #finishReason()}); its text is then complete
     */
    public boolean accept(int token) {
        if (historyLen == history.length) history = Arrays.copyOf(history, historyLen * 2 + 1);
        history[historyLen++] = token;
        if (!ignoreEos && tokenizer.isEndOfGeneration(token)) {
            end("stop");
            return true;
        }
        StopStringMatcher.Result r = stops.feed(decoder.accept(token));
        emit(r.text());
        if (r.stopped()) {
            end("stop");
            return true;
        }
        if (maxTokens >= 0 && generated() >= maxTokens) {
            end("length");
            return true;
        }
        return false;
    }

    /** Ends the sequence for {@code reason} unless it has ended already, emitting the text held back so far. */
    public void end(String reason) {
        if (finishReason != null) return;
        finishReason = reason;
        if (!stops.stopped()) {
            // text held back as a possible stop-string prefix, or an incomplete UTF-8 tail, is emitted at the end
            StopStringMatcher.Result r = stops.feed(decoder.flush());
            emit(r.text());
            if (!r.stopped()) emit(stops.flush());
        }
    }

    private void emit(String piece) {
        if (piece == null || piece.isEmpty()) return;
        text.append(piece);
        listener.onText(piece);
    }

    public boolean ended() {
        return finishReason != null;
    }

    /** {@code stop}, {@code length} or {@code context}; null while the sequence goes on. */
    public String finishReason() {
        return finishReason;
    }

    /** How many tokens this sequence has generated. */
    public int generated() {
        return historyLen - contextLength;
    }

    /** The generated tokens, the end-of-generation token included when one ended the sequence. */
    public int[] tokens() {
        return Arrays.copyOfRange(history, contextLength, historyLen);
    }

    /** The text emitted so far (all of it, once ended). */
    public String text() {
        return text.toString();
    }

    /**
     * Generated tokens spent thinking: the thinking processor's count when there is one, else the generated tokens
     * between {@code <think>} and {@code </think>} (a thought the context opened counts from the first token).
     */
    public int thinkingTokens() {
        for (int i = processors.length - 1; i >= 0; i--) { // a request's own thinking control comes last
            if (processors[i] instanceof ThinkingProcessor tp) return tp.thinkingTokens();
        }
        int open = tokenizer.tokenId("<think>").orElse(-1);
        int close = tokenizer.tokenId("</think>").orElse(-1);
        if (open < 0 || close < 0) return 0;
        boolean in = false;
        int n = 0;
        for (int i = 0; i < historyLen; i++) {
            int t = history[i];
            if (t == open) in = true;
            else if (t == close) in = false;
            else if (in && i >= contextLength) n++;
        }
        return n;
    }
}
