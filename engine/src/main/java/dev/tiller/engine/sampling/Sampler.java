package dev.tiller.engine.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from a row of logits with llama.cpp's default chain:
 * penalties → top-k → top-p → min-p → temperature → random draw. Top-p and min-p judge the
 * probabilities before temperature, as llama.cpp does.
 *
 * <p>One sampler per generation stream: it owns its random generator (seeded from the config, so a
 * seed reproduces a run) and scratch buffers, so {@link #sample} allocates nothing once warm. Not
 * thread-safe. The caller's logits are never modified.
 */
public final class Sampler {

    private final SamplerConfig config;
    private final SplittableRandom random;

    private float[] work = new float[0];     // penalized logits
    private int[] counts = new int[0];       // occurrences of each token in the penalty window
    private int[] candidates = new int[0];   // token ids still in the running, most likely first
    private long[] sortKeys = new long[0];
    private double[] weights = new double[0];

    public Sampler(SamplerConfig config) {
        this.config = config;
        long seed = config.seed() == SamplerConfig.RANDOM_SEED ? System.nanoTime() ^ 0x9E3779B97F4A7C15L : config.seed();
        this.random = new SplittableRandom(seed);
    }

    public SamplerConfig config() {
        return config;
    }

    /** Samples from the whole row with no history (so no penalties). */
    public int sample(float[] logits) {
        return sample(logits, logits.length, null, 0);
    }

    /**
     * @param logits     the model's output row; only the first {@code vocabSize} entries are read
     * @param history    tokens so far (prompt and generated), oldest first; the penalties look at the
     *                   last {@code repeatLastN} of the first {@code historyLen}; may be null when 0
     * @return the chosen token id
     */
    public int sample(float[] logits, int vocabSize, int[] history, int historyLen) {
        return sample(logits, 0, vocabSize, history, historyLen);
    }

    /**
     * As {@link #sample(float[], int, int[], int)} for the row {@code logits[offset .. offset + vocabSize)}, so a
     * batch's logits are sampled where they lie, without copying each row out first.
     */
    public int sample(float[] logits, int offset, int vocabSize, int[] history, int historyLen) {
        if (vocabSize <= 0 || offset < 0 || offset + vocabSize > logits.length) {
            throw new IllegalArgumentException("row " + offset + " + " + vocabSize + " outside the " + logits.length + " logits");
        }
        if (historyLen < 0 || historyLen > (history == null ? 0 : history.length)) {
            throw new IllegalArgumentException("historyLen " + historyLen + " exceeds the history array");
        }
        ensureCapacity(vocabSize);
        System.arraycopy(logits, offset, work, 0, vocabSize);
        if (config.penalizes()) {
            applyPenalties(work, vocabSize, history, historyLen);
        }
        if (config.temperature() <= 0f) {
            return argmax(work, vocabSize);
        }
        int m = selectTopK(vocabSize);
        m = keepTopP(m);
        m = keepMinP(m);
        return draw(m);
    }

    /**
     * llama.cpp's penalties: each distinct token in the window has its logit divided by the repeat
     * penalty when positive (multiplied when not), then loses
     * {@code count * frequencyPenalty + presencePenalty}.
     */
    void applyPenalties(float[] logits, int vocabSize, int[] history, int historyLen) {
        ensureCapacity(vocabSize);
        int window = config.repeatLastN() < 0 ? historyLen : Math.min(config.repeatLastN(), historyLen);
        int from = historyLen - window;
        for (int i = from; i < historyLen; i++) {
            int token = history[i];
            if (token >= 0 && token < vocabSize) {
                counts[token]++;
            }
        }
        for (int i = from; i < historyLen; i++) {
            int token = history[i];
            if (token < 0 || token >= vocabSize || counts[token] == 0) {
                continue; // out of this vocabulary, or already penalized
            }
            float logit = logits[token];
            logit = logit <= 0f ? logit * config.repeatPenalty() : logit / config.repeatPenalty();
            logits[token] = logit - counts[token] * config.frequencyPenalty() - config.presencePenalty();
            counts[token] = 0;
        }
    }

    /**
     * Index of the largest logit; the lowest index wins ties. NaNs: a NaN is never chosen, except that a NaN at index 0
     * (which nothing exceeds) gives 0. The CUDA kernel {@code argmax_rows} gives the same answer for greedy decoding on
     * the device.
     */
    public static int argmax(float[] logits, int n) {
        return argmax(logits, 0, n);
    }

    /** {@link #argmax(float[], int)} of the row {@code logits[offset .. offset + n)}, as an index into the row. */
    public static int argmax(float[] logits, int offset, int n) {
        int best = 0;
        float bestValue = logits[offset];
        for (int i = 1; i < n; i++) {
            if (logits[offset + i] > bestValue) {
                bestValue = logits[offset + i];
                best = i;
            }
        }
        return best;
    }

    /**
     * Whether {@link #sample} is the argmax of the row as given: greedy (temperature 0 or below) and no penalties. Then
     * the row's argmax may be computed where the row lies (on the GPU) and the draw skipped: greedy draws nothing from
     * the random stream, so the sampler's state is the same either way.
     */
    public boolean greedy() {
        return config.temperature() <= 0f && !config.penalizes();
    }

    /**
     * Whether {@link #sample} is a plain draw from softmax(row / T): temperature above 0, no penalties, and no top-k,
     * top-p or min-p truncation. Then the draw may be made where the row lies as an argmax with Gumbel noise
     * ({@link GumbelMax}, keyed by {@link #nextKey}).
     */
    public boolean temperatureOnly() {
        return config.temperature() > 0f && !config.penalizes() && config.topK() <= 0 && config.topP() >= 1f && config.minP() <= 0f;
    }

    /** The key of the next {@link GumbelMax} draw, from this sampler's seeded stream (one per step). */
    public long nextKey() {
        return random.nextLong();
    }

    /**
     * Fills {@code candidates} with the k best tokens (all when top-k is off), sorted by logit
     * descending when a later stage needs the order. A small k is found with a size-k heap in one
     * pass, never sorting the whole vocabulary.
     */
    private int selectTopK(int n) {
        int k = config.topK();
        boolean needsOrder = config.topP() < 1f || config.minP() > 0f;
        if (k <= 0 || k >= n) {
            for (int i = 0; i < n; i++) {
                candidates[i] = i;
            }
            if (needsOrder) {
                sortByLogitDescending(n);
            }
            return n;
        }
        int size = 0;
        for (int i = 0; i < n; i++) {
            if (size < k) {
                candidates[size] = i;
                siftUp(size++);
            } else if (work[i] > work[candidates[0]]) {
                candidates[0] = i;
                siftDown(0, k);
            }
        }
        sortByLogitDescending(k);
        return k;
    }

    // Min-heap on logit over candidates[0..size): the root is the weakest of the best so far.
    private void siftUp(int i) {
        int node = candidates[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (work[candidates[parent]] <= work[node]) {
                break;
            }
            candidates[i] = candidates[parent];
            i = parent;
        }
        candidates[i] = node;
    }

    private void siftDown(int i, int size) {
        int node = candidates[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && work[candidates[child + 1]] < work[candidates[child]]) {
                child++;
            }
            if (work[candidates[child]] >= work[node]) {
                break;
            }
            candidates[i] = candidates[child];
            i = child;
        }
        candidates[i] = node;
    }

    /** Sorts candidates[0..m) by logit, largest first, ties by token id, with a primitive sort. */
    private void sortByLogitDescending(int m) {
        for (int i = 0; i < m; i++) {
            int bits = Float.floatToIntBits(work[candidates[i]]);
            int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // signed-int order == float order
            sortKeys[i] = ((long) ~ordered << 32) | (candidates[i] & 0xffffffffL);
        }
        Arrays.sort(sortKeys, 0, m);
        for (int i = 0; i < m; i++) {
            candidates[i] = (int) sortKeys[i];
        }
    }

    /** Keeps the shortest head of the sorted candidates whose probability reaches top-p. */
    private int keepTopP(int m) {
        float p = config.topP();
        if (p >= 1f) {
            return m;
        }
        double max = work[candidates[0]];
        double total = 0;
        for (int i = 0; i < m; i++) {
            weights[i] = Math.exp(work[candidates[i]] - max);
            total += weights[i];
        }
        double cumulative = 0;
        for (int i = 0; i < m; i++) {
            cumulative += weights[i];
            if (cumulative / total >= p) {
                return i + 1;
            }
        }
        return m;
    }

    /** Keeps the sorted candidates at least {@code minP} times as likely as the most likely one. */
    private int keepMinP(int m) {
        float minP = config.minP();
        if (minP <= 0f) {
            return m;
        }
        float threshold = work[candidates[0]] + (float) Math.log(minP);
        int kept = 1;
        while (kept < m && work[candidates[kept]] >= threshold) {
            kept++;
        }
        return kept;
    }

    /** Softmax of logits / temperature over the survivors, then one draw. */
    private int draw(int m) {
        double invTemperature = 1.0 / config.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            max = Math.max(max, work[candidates[i]]);
        }
        double total = 0;
        for (int i = 0; i < m; i++) {
            double w = Math.exp((work[candidates[i]] - max) * invTemperature);
            weights[i] = w;
            total += w;
        }
        double u = random.nextDouble() * total;
        for (int i = 0; i < m; i++) {
            u -= weights[i];
            if (u < 0) {
                return candidates[i];
            }
        }
        // Rounding left u a hair above zero: the last token with any weight takes it.
        for (int i = m - 1; i > 0; i--) {
            if (weights[i] > 0) {
                return candidates[i];
            }
        }
        return candidates[0];
    }

    private void ensureCapacity(int n) {
        if (work.length < n) {
            work = new float[n];
            counts = new int[n];
            candidates = new int[n];
            sortKeys = new long[n];
            weights = new double[n];
        }
    }
}
