package dev.tiller.engine.api;

import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.Batch;
import dev.tiller.engine.model.ForwardPass;
import dev.tiller.engine.model.KVCache;
import dev.tiller.engine.model.MemoryBudget;

import java.util.Arrays;

/**
 * One conversation with a model: its KV cache, the tokens evaluated so far, and the hooks applied to its forward
 * passes. Many sessions can share one {@link Model} on different threads; a session itself is not thread-safe.
 */
public final class Session implements AutoCloseable {
    private final Model model;
    private final ForwardPass pass;
    private final KVCache cache;
    private final float[] lastLogits;
    private int[] history = new int[64];
    private Hooks hooks = Hooks.NONE;

    Session(Model model, int contextSize) {
        this.model = model;
        this.pass = model.forwardPass();
        this.cache = new KVCache(model.config(), contextSize, model.memoryBudget());
        this.lastLogits = new float[model.config().vocabSize()];
    }

    public Model model() {
        return model;
    }

    public Hooks hooks() {
        return hooks;
    }

    /** Installs hooks for the following forward passes ({@link Hooks#NONE} to remove them). */
    public Session setHooks(Hooks hooks) {
        this.hooks = hooks == null ? Hooks.NONE : hooks;
        return this;
    }

    /** A fresh, empty hook set sized for this model, installed on this session. */
    public Hooks installHooks() {
        Hooks h = new Hooks(model.config().layers());
        setHooks(h);
        return h;
    }

    /** The number of tokens evaluated so far (the position of the next token). */
    public int position() {
        return cache.length();
    }

    /** This session's KV cache, for building multi-sequence {@link dev.tiller.engine.model.Batch}es. */
    public KVCache kvCache() {
        return cache;
    }

    public int contextSize() {
        return cache.maxPositions();
    }

    @Override
    public String toString() {
        return "Session[" + position() + "/" + contextSize() + " positions, tokens=" + dev.tiller.loader.ArrayText.of(tokens())
                + (hooks == Hooks.NONE ? "" : ", hooks installed") + ", model " + model.path().getFileName() + "]";
    }

    /** The tokens evaluated so far. */
    public int[] tokens() {
        return Arrays.copyOf(history, cache.length());
    }

    /** Evaluates tokens after the current position in one batched pass; returns the last token's logits. */
    public float[] prefill(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        int start = cache.length();
        checkContext(tokens.length);
        MemoryBudget budget = model.memoryBudget();
        budget.reserveForward(model.config(), tokens.length, 1);
        try {
            pass.forward(Batch.ofSequence(tokens, tokens.length, cache, 0, false), hooks, lastLogits);
        } finally {
            budget.release(MemoryBudget.forwardBytes(model.config(), tokens.length, 1));
        }
        record(start, tokens);
        return lastLogits;
    }

    private final boolean[] argmaxOnly = {true};
    private final int[] argmaxId = new int[1];

    /**
     * Evaluates one token and returns the argmax of its logits (the lowest id among equal values), for greedy decoding.
     * On a GPU only that id crosses to the host when no {@code logits} hook needs the row, so {@link #logits()} is then
     * not this token's row: use {@link #decode} when the row is wanted. On the CPU it is the same as
     * {@code Sampler.argmax(decode(token))}.
     */
    public int decodeArgmax(int token) {
        int[] tokens = {token};
        int start = cache.length();
        checkContext(1);
        MemoryBudget budget = model.memoryBudget();
        budget.reserveForward(model.config(), 1, 1);
        try {
            pass.forward(Batch.ofSequence(tokens, 1, cache, 0, false), hooks, lastLogits, lastLogits.length, argmaxOnly, argmaxId);
        } finally {
            budget.release(MemoryBudget.forwardBytes(model.config(), 1, 1));
        }
        record(start, tokens);
        return argmaxId[0];
    }

    /** Like {@link #prefill} but returns the logits of every token, [tokens.length][vocab] row-major. */
    public float[] prefillAllLogits(int[] tokens) {
        if (tokens.length == 0) throw new IllegalArgumentException("prefill needs at least one token");
        int vocab = model.config().vocabSize();
        checkContext(tokens.length);
        MemoryBudget budget = model.memoryBudget();
        budget.reserveForward(model.config(), tokens.length, tokens.length);
        float[] all;
        int start = cache.length();
        try {
            all = new float[Math.multiplyExact(tokens.length, vocab)];
            pass.forward(Batch.ofSequence(tokens, tokens.length, cache, 0, true), hooks, all);
        } finally {
            budget.release(MemoryBudget.forwardBytes(model.config(), tokens.length, tokens.length));
        }
        System.arraycopy(all, (tokens.length - 1) * vocab, lastLogits, 0, vocab);
        record(start, tokens);
        return all;
    }

    /** Evaluates one token; returns its logits (an array owned by the session, overwritten by the next call). */
    public float[] decode(int token) {
        return prefill(new int[]{token});
    }

    /** The logits of the last evaluated token. */
    public float[] logits() {
        return lastLogits;
    }

    /** Forgets everything from {@code position} on (e.g. to reuse a shared prompt prefix). */
    public void truncate(int position) {
        cache.truncate(position);
    }

    public void reset() {
        cache.truncate(0);
    }

    /** Fails before any allocation when the tokens cannot fit in the context. */
    private void checkContext(int n) {
        if ((long) cache.length() + n > cache.maxPositions()) {
            throw new IllegalArgumentException(n + " tokens after position " + cache.length() + " do not fit in the context size "
                    + cache.maxPositions() + " (raise it with --ctx-size)");
        }
    }

    /** Returns this session's KV cache to the model's memory budget; the session must not be used afterwards. */
    @Override
    public void close() {
        cache.releaseBudget();
    }

    private void record(int start, int[] tokens) {
        int end = start + tokens.length;
        if (end > history.length) history = Arrays.copyOf(history, Math.max(end, history.length * 2));
        System.arraycopy(tokens, 0, history, start, tokens.length);
    }
}
