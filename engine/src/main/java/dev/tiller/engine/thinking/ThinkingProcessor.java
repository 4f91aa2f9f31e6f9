package dev.tiller.engine.thinking;

import dev.tiller.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.OptionalInt;

/** Applies a {@link ThinkingControl} to one sequence. Tracks whether the sequence is thinking and for how long. */
public final class ThinkingProcessor implements LogitsProcessor {
    private final ThinkingControl control;
    private final int openId;
    private final int closeId;
    private final int[] waitTokens;
    private final int[] openTokens;
    private final ArrayDeque<Integer> forced = new ArrayDeque<>();
    private boolean thinking;
    private int thinkingTokens;
    private int waits;

    public ThinkingProcessor(ThinkingControl control, Tokenizer tokenizer) {
        this.control = control;
        this.openId = require(tokenizer, "<think>");
        this.closeId = require(tokenizer, "</think>");
        // "Wait" continues the thought: a newline then the word, as s1 appends it
        this.waitTokens = tokenizer.encode("\n" + control.waitOrDefault(), false, false);
        int[] nl = tokenizer.encode("\n", false, false);
        this.openTokens = new int[1 + nl.length];
        openTokens[0] = openId;
        System.arraycopy(nl, 0, openTokens, 1, nl.length);
    }

    /** Whether the tokenizer has the thinking tokens this processor needs. */
    public static boolean supported(Tokenizer tokenizer) {
        return tokenizer.tokenId("<think>").isPresent() && tokenizer.tokenId("</think>").isPresent();
    }

    private static int require(Tokenizer t, String text) {
        OptionalInt id = t.tokenId(text);
        if (id.isEmpty()) throw new IllegalArgumentException("thinking control needs a model whose vocabulary has " + text);
        return id.getAsInt();
    }

    @Override
    public void start(int[] promptTokens) {
        for (int t : promptTokens) {
            if (t == openId) thinking = true;
            else if (t == closeId) thinking = false;
        }
        if (!thinking && control.opens()) for (int t : openTokens) forced.add(t);
    }

    @Override
    public void process(float[] logits, int offset, int vocab, int step) {
        if (thinking && forced.isEmpty() && control.endScale() != null) {
            LogOdds.scale(logits, offset, vocab, closeId, control.endScale(), 0);
        }
    }

    @Override
    public int accept(int sampled, int step) {
        int token = sampled;
        if (!forced.isEmpty()) {
            token = forced.poll();
        } else if (thinking && control.budget() != null && thinkingTokens >= control.budget()) {
            token = closeId;
        } else if (thinking && token == closeId && control.minTokens() != null && thinkingTokens < control.minTokens()) {
            waits++;
            for (int i = 1; i < waitTokens.length; i++) forced.add(waitTokens[i]);
            token = waitTokens[0];
        }
        if (token == openId) {
            thinking = true;
        } else if (token == closeId) {
            thinking = false;
        } else if (thinking) {
            thinkingTokens++;
        }
        return token;
    }

    public int thinkingTokens() {
        return thinkingTokens;
    }

    public boolean thinking() {
        return thinking;
    }

    /** How many times an early end of thinking was replaced by the wait text. */
    public int waits() {
        return waits;
    }
}
