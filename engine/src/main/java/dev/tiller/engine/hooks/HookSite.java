package dev.tiller.engine.hooks;

/**
 * Where in the forward pass a hook sits, named as TransformerLens names them. Per-layer sites are prefixed with
 * {@code blocks.L.}.
 */
public enum HookSite {
    /** Token embeddings, before block 0. */
    EMBED("hook_embed", false),
    /** The residual stream entering block L. */
    RESID_PRE("hook_resid_pre", true),
    /** Output of block L's attention (after the output projection and, in gemma2, its post-attention norm), before it joins the residual. */
    ATTN_OUT("hook_attn_out", true),
    /** Residual after attention: resid_pre + attn_out. */
    RESID_MID("hook_resid_mid", true),
    /** Output of block L's MLP (after gemma2's post-MLP norm), before it joins the residual. */
    MLP_OUT("hook_mlp_out", true),
    /** Residual leaving block L: resid_mid + mlp_out. llama.cpp's control vector direction.L is added here. */
    RESID_POST("hook_resid_post", true),
    /** The final RMSNorm's output (input to the unembedding). */
    LN_FINAL("ln_final", false),
    /** Output logits. */
    LOGITS("logits", false);

    public final String suffix;
    public final boolean perLayer;

    HookSite(String suffix, boolean perLayer) {
        this.suffix = suffix;
        this.perLayer = perLayer;
    }
}
