package dev.tiller.models.arch;

/** The nonlinearity of the gated MLP: {@code down(act(gate(x)) * up(x))}. */
public enum Activation {
    /** SwiGLU: x · sigmoid(x) (HF {@code hidden_act: silu}). */
    SILU("silu"),
    /** GeGLU with the tanh approximation of GELU (HF {@code hidden_activation: gelu_pytorch_tanh}). */
    GELU_TANH("gelu_pytorch_tanh");

    /** The name HF's config.json gives it. */
    public final String hfName;

    Activation(String hfName) {
        this.hfName = hfName;
    }
}
