package dev.tiller.engine.generate;

import dev.tiller.engine.sampling.SamplerConfig;

import java.util.List;

/**
 * What to generate: sampling settings, how many tokens at most, and when to stop early.
 *
 * @param maxTokens    the most tokens to generate (-1: until the context is full)
 * @param stop         strings that end generation; the stop string itself is not emitted
 * @param addSpecial   add the tokenizer's BOS (or other special prefix) to the prompt
 * @param parseSpecial recognise special tokens such as {@code <|im_start|>} written in the prompt text
 * @param ignoreEos    keep going past end-of-generation tokens (for benchmarks)
 */
public record GenerationOptions(SamplerConfig sampler, int maxTokens, List<String> stop, boolean addSpecial, boolean parseSpecial,
                                boolean ignoreEos) {

    public GenerationOptions {
        stop = List.copyOf(stop);
    }

    public static GenerationOptions defaults() {
        return new GenerationOptions(SamplerConfig.defaults(), 256, List.of(), true, true, false);
    }

    public static GenerationOptions greedy(int maxTokens) {
        return new GenerationOptions(SamplerConfig.greedy(), maxTokens, List.of(), true, true, false);
    }

    public GenerationOptions withSampler(SamplerConfig s) {
        return new GenerationOptions(s, maxTokens, stop, addSpecial, parseSpecial, ignoreEos);
    }

    public GenerationOptions withMaxTokens(int n) {
        return new GenerationOptions(sampler, n, stop, addSpecial, parseSpecial, ignoreEos);
    }

    public GenerationOptions withStop(List<String> s) {
        return new GenerationOptions(sampler, maxTokens, s, addSpecial, parseSpecial, ignoreEos);
    }

    public GenerationOptions withAddSpecial(boolean b) {
        return new GenerationOptions(sampler, maxTokens, stop, b, parseSpecial, ignoreEos);
    }

    public GenerationOptions withIgnoreEos(boolean b) {
        return new GenerationOptions(sampler, maxTokens, stop, addSpecial, parseSpecial, b);
    }
}
