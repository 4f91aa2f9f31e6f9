package dev.tiller.models.arch;

/**
 * One weight of an architecture: which {@link Weight} it is, its Hugging Face name, and whether a model must have it.
 *
 * @param hfName the safetensors name; for per-layer weights the part after {@code model.layers.L.}; null for tensors
 *               only llama.cpp's converter makes ({@code rope_freqs.weight})
 */
public record TensorSpec(Weight weight, String hfName, Presence presence) {

    public enum Presence {
        /** Loading fails, naming the tensor, when it is missing. */
        REQUIRED,
        /**
         * Used when present: biases some checkpoints of a family carry, {@code output.weight} (absent when the
         * embeddings are tied), {@code rope_freqs.weight}.
         */
        OPTIONAL
    }

    /** The full HF name of this weight in block {@code layer} (ignored for model-wide weights), or null. */
    public String hfName(int layer) {
        if (hfName == null) return null;
        return weight.perLayer ? "model.layers." + layer + "." + hfName : hfName;
    }

    public boolean required() {
        return presence == Presence.REQUIRED;
    }
}
