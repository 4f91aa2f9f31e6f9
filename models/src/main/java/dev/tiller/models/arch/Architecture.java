package dev.tiller.models.arch;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One transformer family, described once: what its block does (biases, head norms, sandwich norms, activation, RoPE
 * layout, soft-caps, sliding window, embedding scale), which weights it has under their GGUF and Hugging Face names,
 * and which hyper-parameters it reads. The engine binds weights and reads configurations from this; the synthetic
 * writer writes files from it. The families are in {@link Architectures}; docs/architectures.md says how to add one.
 *
 * <p>Every family is a pre-norm decoder-only block:
 * {@code x += post_attn_norm?(attention(attn_norm(x)))}, {@code x += post_ffw_norm?(mlp(ffn_norm(x)))}, with the
 * hook points of {@link #blockOrder()}.
 */
public final class Architecture {
    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern GGUF_LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    private final String name;
    private final List<String> hfModelTypes;
    private final String hfClass;
    private final RopeStyle ggufRope;
    private final Activation activation;
    private final float hfNormOffset;
    private final boolean scaledEmbedding;
    private final int slidingWindowPeriod;
    private final Map<Weight, TensorSpec> tensors;
    private final Set<ConfigKey> extraKeys;
    private final Map<String, Weight> byHfName = new LinkedHashMap<>();
    private final Map<String, Weight> byGgufName = new LinkedHashMap<>();

    private Architecture(Builder b) {
        this.name = b.name;
        this.hfModelTypes = List.copyOf(b.hfModelTypes);
        this.hfClass = b.hfClass;
        this.ggufRope = b.ggufRope;
        this.activation = b.activation;
        this.hfNormOffset = b.hfNormOffset;
        this.scaledEmbedding = b.scaledEmbedding;
        this.slidingWindowPeriod = b.slidingWindowPeriod;
        this.tensors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.tensors));
        this.extraKeys = b.extraKeys.isEmpty() ? Set.of() : Set.copyOf(b.extraKeys);
        for (TensorSpec t : tensors.values()) {
            if (t.hfName() != null) byHfName.put(t.hfName(), t.weight());
            byGgufName.put(t.weight().ggufSuffix(), t.weight());
        }
    }

    /** Starts the description of the family llama.cpp calls {@code name} ({@code general.architecture}). */
    public static Builder builder(String name) {
        return new Builder(name);
    }

    /** llama.cpp's name, GGUF {@code general.architecture}. */
    public String name() {
        return name;
    }

    /** The HF {@code model_type} values that mean this family. */
    public List<String> hfModelTypes() {
        return hfModelTypes;
    }

    /** The HF {@code architectures} class, e.g. {@code LlamaForCausalLM}. */
    public String hfClass() {
        return hfClass;
    }

    /** The RoPE pairing of the GGUF copy; HF checkpoints always rotate {@link RopeStyle#NEOX}. */
    public RopeStyle ggufRope() {
        return ggufRope;
    }

    public Activation activation() {
        return activation;
    }

    /**
     * What HF checkpoints leave out of every RMSNorm weight: gemma's HF modules compute {@code x · (1 + w)} and store
     * {@code w}, while llama.cpp's converter stores {@code 1 + w} in GGUF so that its norm is a plain {@code x · w}.
     * A reader adds this to HF norm weights; the writer subtracts it. 0 for families whose norms are plain.
     */
    public float hfNormOffset() {
        return hfNormOffset;
    }

    /** The token embeddings are multiplied by sqrt(dim) before block 0 (gemma); the tied unembedding is not. */
    public boolean scaledEmbedding() {
        return scaledEmbedding;
    }

    /** Layer {@code layer} attends within the sliding window (when the model sets one); gemma2: the even layers. */
    public boolean isSlidingLayer(int layer) {
        return slidingWindowPeriod > 0 && layer % slidingWindowPeriod == 0;
    }

    /** Every 1 in this many layers (starting at 0) uses the sliding window; 0 when none does. */
    public int slidingWindowPeriod() {
        return slidingWindowPeriod;
    }

    /** The weights, in the order llama.cpp writes them. */
    public Collection<TensorSpec> tensors() {
        return tensors.values();
    }

    /** This family's spec of {@code w}, or null when the family has no such weight. */
    public TensorSpec spec(Weight w) {
        return tensors.get(w);
    }

    public boolean has(Weight w) {
        return tensors.containsKey(w);
    }

    /** Whether this family reads hyper-parameter {@code key} (every family reads the common ones). */
    public boolean reads(ConfigKey key) {
        return key.common || extraKeys.contains(key);
    }

    /** The GGUF name of an HF tensor of this family, or the name itself when this family has no such tensor. */
    public String ggufName(String hfName) {
        Weight w = byHfName.get(hfName);
        if (w != null && !w.perLayer) return w.ggufName(0);
        Matcher m = HF_LAYER.matcher(hfName);
        if (m.matches()) {
            w = byHfName.get(m.group(2));
            if (w != null && w.perLayer) return w.ggufName(Integer.parseInt(m.group(1)));
        }
        return hfName;
    }

    /** The HF name of a GGUF tensor of this family (inverse of {@link #ggufName}), or the name itself when unknown. */
    public String hfName(String ggufName) {
        Weight w = byGgufName.get(ggufName);
        if (w != null && !w.perLayer && spec(w).hfName() != null) return spec(w).hfName(0);
        Matcher m = GGUF_LAYER.matcher(ggufName);
        if (m.matches()) {
            w = byGgufName.get(m.group(2));
            if (w != null && w.perLayer) return spec(w).hfName(Integer.parseInt(m.group(1)));
        }
        return ggufName;
    }

    /**
     * One block in order, with the TransformerLens hook points (in brackets) the engine calls: the block order this
     * description implies, for people and tools ({@code ./tiller info}, docs).
     */
    public List<String> blockOrder() {
        List<String> s = new ArrayList<>();
        s.add("[blocks.L.hook_resid_pre]");
        s.add("attn_norm");
        s.add(has(Weight.ATTN_Q_BIAS) && spec(Weight.ATTN_Q_BIAS).required() ? "q, k, v + bias" : "q, k, v");
        if (has(Weight.ATTN_Q_NORM)) s.add("q_norm, k_norm per head");
        s.add("rope (" + (ggufRope == RopeStyle.NEOX ? "neox" : "adjacent pairs in GGUF, neox in HF") + ")");
        List<String> attention = new ArrayList<>();
        if (reads(ConfigKey.ATTN_LOGIT_SOFTCAPPING)) attention.add("soft-capped scores");
        if (slidingWindowPeriod > 0) attention.add("sliding window on layers 0, " + slidingWindowPeriod + ", " + 2 * slidingWindowPeriod + ", ...");
        s.add("attention" + (attention.isEmpty() ? "" : " (" + String.join(", ", attention) + ")"));
        s.add("attn_output");
        if (has(Weight.POST_ATTN_NORM)) s.add("post_attention_norm");
        s.add("[blocks.L.hook_attn_out]");
        s.add("+ residual [blocks.L.hook_resid_mid]");
        s.add("ffn_norm");
        s.add("gate, up; " + activation.hfName + "(gate) * up; down");
        if (has(Weight.POST_FFW_NORM)) s.add("post_ffw_norm");
        s.add("[blocks.L.hook_mlp_out]");
        s.add("+ residual [blocks.L.hook_resid_post]");
        return s;
    }

    @Override
    public String toString() {
        return name;
    }

    /** Builds an {@link Architecture}; each family's class reads as its description. */
    public static final class Builder {
        private final String name;
        private final List<String> hfModelTypes = new ArrayList<>();
        private String hfClass;
        private RopeStyle ggufRope = RopeStyle.NEOX;
        private Activation activation = Activation.SILU;
        private float hfNormOffset;
        private boolean scaledEmbedding;
        private int slidingWindowPeriod;
        private final Map<Weight, TensorSpec> tensors = new LinkedHashMap<>();
        private final Set<ConfigKey> extraKeys = EnumSet.noneOf(ConfigKey.class);

        private Builder(String name) {
            this.name = name;
        }

        /** The HF class and the {@code model_type} values (the first is the one written). */
        public Builder hf(String hfClass, String... modelTypes) {
            this.hfClass = hfClass;
            hfModelTypes.addAll(List.of(modelTypes));
            return this;
        }

        public Builder ggufRope(RopeStyle style) {
            this.ggufRope = style;
            return this;
        }

        public Builder activation(Activation a) {
            this.activation = a;
            return this;
        }

        /** See {@link Architecture#hfNormOffset()}. */
        public Builder hfNormOffset(float offset) {
            this.hfNormOffset = offset;
            return this;
        }

        public Builder scaledEmbedding() {
            this.scaledEmbedding = true;
            return this;
        }

        /** Layers 0, period, 2·period, ... attend within the sliding window. */
        public Builder slidingWindowEvery(int period) {
            this.slidingWindowPeriod = period;
            return this;
        }

        /** A weight every model of this family has. */
        public Builder tensor(Weight w, String hfName) {
            return add(new TensorSpec(w, hfName, TensorSpec.Presence.REQUIRED));
        }

        /** A weight used when present. */
        public Builder optional(Weight w, String hfName) {
            return add(new TensorSpec(w, hfName, TensorSpec.Presence.OPTIONAL));
        }

        private Builder add(TensorSpec t) {
            if (tensors.put(t.weight(), t) != null) throw new IllegalArgumentException(name + ": " + t.weight() + " described twice");
            return this;
        }

        /** Hyper-parameters beyond the {@link ConfigKey#common} ones that this family reads. */
        public Builder reads(ConfigKey... keys) {
            extraKeys.addAll(List.of(keys));
            return this;
        }

        public Architecture build() {
            if (hfClass == null || hfModelTypes.isEmpty()) throw new IllegalStateException(name + ": no HF class or model_type");
            return new Architecture(this);
        }
    }
}
