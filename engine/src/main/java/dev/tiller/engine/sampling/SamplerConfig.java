package dev.tiller.engine.sampling;

/**
 * How to pick the next token from the logits. Defaults are llama.cpp's ({@code common_params_sampling}).
 *
 * @param temperature      logits are divided by it; {@code <= 0} means greedy (argmax)
 * @param topK             keep only the k most likely tokens; {@code <= 0} keeps all
 * @param topP             keep the smallest set of most likely tokens whose probability adds up to
 *                         at least p; {@code >= 1} keeps all
 * @param minP             drop tokens less likely than {@code minP} times the most likely one; {@code 0} keeps all
 * @param repeatPenalty    divides positive (multiplies negative) logits of recently seen tokens; {@code 1} is off
 * @param repeatLastN      how many recent tokens the penalties look at; {@code 0} none, {@code -1} all given
 * @param presencePenalty  subtracted once from the logit of every recently seen token
 * @param frequencyPenalty subtracted per occurrence from the logit of recently seen tokens
 * @param seed             seeds the sampler's random generator; {@link #RANDOM_SEED} picks a fresh one
 */
public record SamplerConfig(
        float temperature,
        int topK,
        float topP,
        float minP,
        float repeatPenalty,
        int repeatLastN,
        float presencePenalty,
        float frequencyPenalty,
        long seed) {

    /** Like llama.cpp's {@code LLAMA_DEFAULT_SEED}: every sampler made with it draws differently. */
    public static final long RANDOM_SEED = -1;

    public static final SamplerConfig DEFAULTS = new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0f, 0f, RANDOM_SEED);

    public SamplerConfig {
        requireFinite("temperature", temperature);
        if (!(topP >= 0f && topP <= 1f)) {
            throw new IllegalArgumentException("topP must be in [0, 1], got " + topP);
        }
        if (!(minP >= 0f && minP <= 1f)) {
            throw new IllegalArgumentException("minP must be in [0, 1], got " + minP);
        }
        if (!(repeatPenalty > 0f) || Float.isInfinite(repeatPenalty)) {
            throw new IllegalArgumentException("repeatPenalty must be positive and finite, got " + repeatPenalty);
        }
        if (repeatLastN < -1) {
            throw new IllegalArgumentException("repeatLastN must be -1 (all), 0 (off) or positive, got " + repeatLastN);
        }
        requireFinite("presencePenalty", presencePenalty);
        requireFinite("frequencyPenalty", frequencyPenalty);
    }

    private static void requireFinite(String name, float value) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException(name + " must be finite, got " + value);
        }
    }

    public static SamplerConfig defaults() {
        return DEFAULTS;
    }

    /** Always the most likely token (after penalties, if any are set later with the withers). */
    public static SamplerConfig greedy() {
        return DEFAULTS.withTemperature(0f);
    }

    public SamplerConfig withTemperature(float t) {
        return new SamplerConfig(t, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed);
    }

    public SamplerConfig withTopK(int k) {
        return new SamplerConfig(temperature, k, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed);
    }

    public SamplerConfig withTopP(float p) {
        return new SamplerConfig(temperature, topK, p, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed);
    }

    public SamplerConfig withMinP(float p) {
        return new SamplerConfig(temperature, topK, topP, p, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed);
    }

    public SamplerConfig withPenalties(float repeat, int lastN, float presence, float frequency) {
        return new SamplerConfig(temperature, topK, topP, minP, repeat, lastN, presence, frequency, seed);
    }

    public SamplerConfig withSeed(long s) {
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, s);
    }

    boolean penalizes() {
        return repeatLastN != 0 && (repeatPenalty != 1f || presencePenalty != 0f || frequencyPenalty != 0f);
    }
}
