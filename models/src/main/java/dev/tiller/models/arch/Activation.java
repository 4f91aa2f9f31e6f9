package dev.tiller.models.arch;

/** The nonlinearity of the gated MLP: {@code down(act(gate(x)) * up(x))}. */
public enum Activation {
    /** SwiGLU: x · sigmoid(x) (HF {@code hidden_act: silu}). */
    SILU("silu", "swish"),
    /** GeGLU with the tanh approximation of GELU (HF {@code hidden_activation: gelu_pytorch_tanh}). */
    GELU_TANH("gelu_pytorch_tanh", "gelu_new");

    /** The name HF's config.json gives it. */
    public final String hfName;
    private final String alias;

    Activation(String hfName, String alias) {
        this.hfName = hfName;
        this.alias = alias;
    }

    /** Whether HF's activation name {@code name} computes this function (transformers has two names for each). */
    public boolean isCalled(String name) {
        return hfName.equals(name) || alias.equals(name);
    }
}
