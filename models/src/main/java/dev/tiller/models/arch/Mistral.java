package dev.tiller.models.arch;

/**
 * Mistral: the llama block with a sliding window on every layer ({@code sliding_window} in HF's config.json; a
 * query sees itself and the {@code sliding_window - 1} positions before it). Mistral 7B v0.1 sets 4096; later
 * releases set null, which means no window. llama.cpp converts Mistral checkpoints as {@code llama} and drops the
 * window, so a GGUF file of one runs as llama; the window applies to HF folders (and to a GGUF whose
 * {@code general.architecture} is {@code mistral}, from {@code mistral.attention.sliding_window}).
 */
public final class Mistral {
    public static final Architecture ARCH = Llama.outputAndMlp(Llama.embeddingAndQkv(Architecture.builder("mistral")
            .hf("MistralForCausalLM", "mistral")
            .ggufRope(RopeStyle.ADJACENT_PAIRS)
            .slidingWindowEvery(1)
            .reads(ConfigKey.SLIDING_WINDOW), false))
            .build();

    private Mistral() {}
}
