package dev.tiller.engine.model;

import dev.tiller.engine.hooks.HookSite;

/**
 * What one pass of {@link TransformerForward} does that depends on what the pass is for, rather than on the
 * architecture: where its rows come from and sit, and what it keeps. Inference (the engine's {@code Batch} on the
 * CPU) and training ({@code DiffTransformer}'s packed sequences) each implement it once:
 *
 * <table class="striped">
 * <caption>The two passes</caption>
 * <tr><th>method</th><th>inference</th><th>training</th></tr>
 * <tr><td>{@link #embed}, {@link #prefix}</td><td>the batch's tokens; no prefix</td>
 *     <td>the sequences' tokens, then the prefix vectors in their rows</td></tr>
 * <tr><td>{@link #rope}</td><td>each row at its batch position</td><td>each row at its position in its packed sequence</td></tr>
 * <tr><td>{@link #attention}</td><td>stores k and v in the rows' KV caches, then attends over the caches</td>
 *     <td>causal attention inside each packed sequence</td></tr>
 * <tr><td>{@link #site}</td><td>runs the {@code Hooks} installed there</td>
 *     <td>adds the steering bias of that site and keeps the read point</td></tr>
 * <tr><td>{@link #buffer}</td><td>the thread's reused scratch arrays</td>
 *     <td>new buffers; those the backward reads are kept</td></tr>
 * <tr><td>{@link #keep}, {@link #keepCopy}</td><td>nothing (no copy)</td><td>the tape: what the backward needs</td></tr>
 * </table>
 *
 * <p>The methods with a default body have inference's meaning (keep nothing, no prefix rows).
 */
public interface PassOps<B> {

    /** The buffers the forward computes in; each holds {@link #rows()} rows (the final two only the logit rows). */
    enum Buffer {
        /** The residual stream, [rows][dim]. */
        X,
        /** The normed input of a sub-block, [rows][dim]. */
        XN,
        /** The projections of block L, after RoPE for q and k: [rows][qDim], [rows][kvDim], [rows][kvDim]. */
        Q, K, V,
        /** Attention-weighted values, heads concatenated, [rows][qDim]. */
        ATTN,
        /** A sub-block's output: attn_out, then mlp_out, [rows][dim]. */
        BRANCH,
        /** The MLP's gate and up projections of block L, [rows][ffn]. */
        GATE, UP,
        /** The activation silu(gate) · up (or gelu), [rows][ffn]; may be GATE itself when nothing reads gate afterwards. */
        H,
        /** The final norm's output for the rows that want logits, [logitRows][dim]. */
        XN_FINAL,
        /** The logits, [logitRows][vocab]. */
        LOGITS
    }

    /**
     * What a backward needs from the forward besides the {@link Buffer}s it keeps: the input of each norm (a copy when
     * the norm writes in place) and what {@link BlockOps#rmsnorm} returned.
     */
    enum Saved {
        /** The residual entering block L (steered hook_resid_pre): checkpointing runs the block again from it. */
        X_PRE,
        /** The residual after attention (steered hook_resid_mid): the MLP's norm input. */
        X_MID,
        /** The norms before attention and before the MLP. */
        RSTD_ATTN, RSTD_FFN,
        /** Qwen3's per-head norms of q and k: their inputs and what the norms returned. */
        Q_RAW, RSTD_Q, K_RAW, RSTD_K,
        /** Gemma2's sandwich norms: the branch before its norm, and what the norm returned. */
        ATTN_RAW, RSTD_POST_ATTN, FFN_RAW, RSTD_POST_FFN,
        /** The final norm. */
        RSTD_FINAL
    }

    /** Token rows in this pass. */
    int rows();

    /** The buffer for {@code which} (of block {@code layer}; -1 outside the blocks). */
    B buffer(Buffer which, int layer);

    /** x's rows get their tokens' embeddings (rows that are not tokens are left as they are). */
    void embed(B x);

    /** Rows that are not tokens get their values (training's prefix vectors), after the embedding scale: they are not embeddings. */
    default void prefix(B x) {}

    /** The hook point {@code site} of block {@code layer} (-1: not in a block) on y, which the site may change in place. */
    void site(HookSite site, int layer, B y);

    /** RoPE of every head of every row, each row at its position; {@code heads} heads of headDim per row. */
    void rope(B y, int heads);

    /** Causal grouped-query attention of block {@code layer} (its window, soft-cap and scale from the config); writes out. */
    void attention(int layer, B q, B k, B v, B out);

    /** Hands {@code b} to the backward under {@code s} (b may be null: nothing to keep). */
    default void keep(Saved s, int layer, B b) {}

    /** Keeps a copy of {@code b} as it is now, where a backward needs it (inference copies nothing). */
    default void keepCopy(Saved s, int layer, B b) {}

    /** Block {@code layer} is done (training with checkpointing drops what it kept but its input). */
    default void blockDone(int layer) {}

    /** Every block is done (inference: the caches now hold the batch's keys and values). */
    default void blocksDone() {}

    /** Rows that want logits. */
    int logitRows();

    /** The rows of x that want logits, in row order, as [logitRows][dim] (x itself when every row wants them). */
    B gatherLogitRows(B x);
}
