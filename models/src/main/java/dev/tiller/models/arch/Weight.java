package dev.tiller.models.arch;

import static dev.tiller.models.arch.Dim.*;

/**
 * Every weight tensor the supported families have, under llama.cpp's GGUF name and with its shape. llama.cpp gives a
 * weight of the same job the same GGUF name in every architecture, so the GGUF name and the shape live here once; the
 * Hugging Face name, which differs between families (gemma2's {@code post_attention_layernorm} is not llama's), lives
 * in each {@link Architecture}'s {@link TensorSpec}s.
 *
 * <p>Shapes are in Hugging Face / safetensors order, outermost first: a matrix is {@code [rows, cols]} = {@code [out,
 * in]}; GGUF's {@code ne} lists the same axes innermost first.
 */
public enum Weight {
    TOKEN_EMBD("token_embd.weight", Kind.MATRIX, VOCAB, DIM),
    /** llama 3.x rope scaling: one divisor per rotated pair, written by llama.cpp's converter (no HF tensor). */
    ROPE_FREQS("rope_freqs.weight", Kind.FACTORS, ROPE_PAIRS),
    ATTN_NORM(Kind.NORM, "attn_norm.weight", DIM),
    ATTN_Q(Kind.MATRIX, "attn_q.weight", Q_DIM, DIM),
    ATTN_Q_BIAS(Kind.BIAS, "attn_q.bias", Q_DIM),
    ATTN_K(Kind.MATRIX, "attn_k.weight", KV_DIM, DIM),
    ATTN_K_BIAS(Kind.BIAS, "attn_k.bias", KV_DIM),
    ATTN_V(Kind.MATRIX, "attn_v.weight", KV_DIM, DIM),
    ATTN_V_BIAS(Kind.BIAS, "attn_v.bias", KV_DIM),
    /** qwen3: one RMSNorm weight shared by every query head. */
    ATTN_Q_NORM(Kind.NORM, "attn_q_norm.weight", HEAD_DIM),
    ATTN_K_NORM(Kind.NORM, "attn_k_norm.weight", HEAD_DIM),
    ATTN_OUTPUT(Kind.MATRIX, "attn_output.weight", DIM, Q_DIM),
    /** gemma2's sandwich norm: RMSNorm of the attention output before it joins the residual. */
    POST_ATTN_NORM(Kind.NORM, "post_attention_norm.weight", DIM),
    FFN_NORM(Kind.NORM, "ffn_norm.weight", DIM),
    FFN_GATE(Kind.MATRIX, "ffn_gate.weight", FFN, DIM),
    FFN_UP(Kind.MATRIX, "ffn_up.weight", FFN, DIM),
    FFN_DOWN(Kind.MATRIX, "ffn_down.weight", DIM, FFN),
    /** gemma2's sandwich norm: RMSNorm of the MLP output before it joins the residual. */
    POST_FFW_NORM(Kind.NORM, "post_ffw_norm.weight", DIM),
    OUTPUT_NORM("output_norm.weight", Kind.NORM, DIM),
    OUTPUT("output.weight", Kind.MATRIX, VOCAB, DIM);

    /** What a weight does, which decides how it is read (matrices stay mapped; the rest are small arrays) and drawn. */
    public enum Kind { MATRIX, BIAS, NORM, FACTORS }

    public final Kind kind;
    public final boolean perLayer;
    private final String ggufName;
    private final Dim[] shape;

    /** A model-wide weight. */
    Weight(String ggufName, Kind kind, Dim... shape) {
        this(kind, false, ggufName, shape);
    }

    /** A weight of every block: its GGUF name is {@code blk.L.} followed by {@code suffix}. */
    Weight(Kind kind, String suffix, Dim... shape) {
        this(kind, true, suffix, shape);
    }

    Weight(Kind kind, boolean perLayer, String ggufName, Dim[] shape) {
        this.kind = kind;
        this.perLayer = perLayer;
        this.ggufName = ggufName;
        this.shape = shape;
    }

    /** The GGUF name; {@code layer} is ignored for model-wide weights. */
    public String ggufName(int layer) {
        return perLayer ? "blk." + layer + "." + ggufName : ggufName;
    }

    /** The GGUF name's part after {@code blk.L.} (the whole name for model-wide weights). */
    public String ggufSuffix() {
        return ggufName;
    }

    /** The shape for these sizes, outermost first ({@code [rows, cols]} for a matrix). */
    public long[] shape(Sizes s) {
        long[] out = new long[shape.length];
        for (int i = 0; i < out.length; i++) out[i] = shape[i].of(s);
        return out;
    }

    public boolean isMatrix() {
        return kind == Kind.MATRIX;
    }
}
