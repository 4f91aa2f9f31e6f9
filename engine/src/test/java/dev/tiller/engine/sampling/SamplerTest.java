package dev.tiller.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class SamplerTest {

    /** A plain sampler: no truncation, temperature 1, so draws follow softmax(logits). */
    private static final SamplerConfig PLAIN = new SamplerConfig(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, 1234);

    /** Logits whose softmax is exactly the given probabilities. */
    private static float[] logitsOf(double... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]);
        }
        return logits;
    }

    private static float[] randomLogits(int n, long seed) {
        Random r = new Random(seed);
        float[] logits = new float[n];
        for (int i = 0; i < n; i++) {
            logits[i] = (float) (r.nextGaussian() * 3);
        }
        return logits;
    }

    private static int slowArgmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    private static Set<Integer> tokensSeen(SamplerConfig config, float[] logits, int draws) {
        Sampler sampler = new Sampler(config);
        Set<Integer> seen = new TreeSet<>();
        for (int i = 0; i < draws; i++) {
            seen.add(sampler.sample(logits));
        }
        return seen;
    }

    @Test
    void greedyIsArgmax() {
        Sampler greedy = new Sampler(SamplerConfig.greedy());
        for (long seed = 0; seed < 20; seed++) {
            float[] logits = randomLogits(151_936, seed);
            assertEquals(slowArgmax(logits), greedy.sample(logits));
        }
    }

    /** A row inside a larger array (a batch's logits) samples as the same row on its own, draw for draw. */
    @Test
    void rowAtAnOffsetSamplesAsTheRowAlone() {
        int n = 300;
        float[] rows = randomLogits(3 * n, 11);
        float[] middle = java.util.Arrays.copyOfRange(rows, n, 2 * n);
        Sampler inPlace = new Sampler(PLAIN);
        Sampler alone = new Sampler(PLAIN);
        int[] history = {1, 2, 3};
        for (int i = 0; i < 50; i++) {
            assertEquals(alone.sample(middle, n, history, 3), inPlace.sample(rows, n, n, history, 3), "draw " + i);
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> inPlace.sample(rows, 2 * n + 1, n, null, 0));
    }

    @Test
    void topKOfOneIsGreedy() {
        for (long seed = 0; seed < 20; seed++) {
            float[] logits = randomLogits(5_000, seed);
            Sampler sampler = new Sampler(SamplerConfig.defaults().withTopK(1).withTemperature(1.5f).withSeed(seed));
            assertEquals(slowArgmax(logits), sampler.sample(logits));
        }
    }

    @Test
    void sameSeedSameSequenceOtherSeedOtherSequence() {
        float[] logits = randomLogits(1_000, 3);
        int[] a = new int[200];
        int[] b = new int[200];
        int[] c = new int[200];
        Sampler sa = new Sampler(SamplerConfig.defaults().withTopK(0).withMinP(0f).withSeed(7));
        Sampler sb = new Sampler(SamplerConfig.defaults().withTopK(0).withMinP(0f).withSeed(7));
        Sampler sc = new Sampler(SamplerConfig.defaults().withTopK(0).withMinP(0f).withSeed(8));
        for (int i = 0; i < a.length; i++) {
            a[i] = sa.sample(logits);
            b[i] = sb.sample(logits);
            c[i] = sc.sample(logits);
        }
        assertArrayEquals(a, b);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
    }

    @Test
    void frequenciesFollowSoftmax() {
        double[] p = {0.4, 0.25, 0.2, 0.1, 0.05};
        assertChiSquareFits(PLAIN, logitsOf(p), p);

        // At temperature 0.5 the probabilities are p^2, renormalized.
        double[] sharpened = new double[p.length];
        double total = 0;
        for (int i = 0; i < p.length; i++) {
            sharpened[i] = p[i] * p[i];
            total += sharpened[i];
        }
        for (int i = 0; i < p.length; i++) {
            sharpened[i] /= total;
        }
        assertChiSquareFits(PLAIN.withTemperature(0.5f), logitsOf(p), sharpened);
    }

    private static void assertChiSquareFits(SamplerConfig config, float[] logits, double[] expected) {
        int draws = 100_000;
        int[] counts = new int[logits.length];
        Sampler sampler = new Sampler(config);
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(logits)]++;
        }
        double chi2 = 0;
        for (int i = 0; i < counts.length; i++) {
            double e = expected[i] * draws;
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
        }
        // 4 degrees of freedom: chi2 > 25 has probability below 1e-4 for a correct sampler.
        assertTrue(chi2 < 25, "chi-square " + chi2 + " for counts " + java.util.Arrays.toString(counts));
    }

    @Test
    void topKKeepsExactlyTheKMostLikely() {
        float[] logits = {0.1f, 3f, -2f, 2.5f, 1f, 2.9f};
        assertEquals(Set.of(1, 5, 3), tokensSeen(PLAIN.withTopK(3), logits, 3_000));
    }

    @Test
    void topPKeepsTheSmallestHeadReachingP() {
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        // cumulative: 0.5, 0.8, 0.95, 1.0
        assertEquals(Set.of(0), tokensSeen(PLAIN.withTopP(0.5f), logits, 2_000));
        assertEquals(Set.of(0, 1), tokensSeen(PLAIN.withTopP(0.79f), logits, 2_000));
        assertEquals(Set.of(0, 1, 2), tokensSeen(PLAIN.withTopP(0.81f), logits, 3_000));
        assertEquals(Set.of(0, 1, 2, 3), tokensSeen(PLAIN.withTopP(0.96f), logits, 5_000));
    }

    @Test
    void topPJudgesProbabilitiesBeforeTemperature() {
        // At temperature 0.1 token 1 would hold under 1e-2 of the mass, yet top-p 0.79 keeps it:
        // llama.cpp applies top-p to the untempered distribution.
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        Sampler sampler = new Sampler(PLAIN.withTopP(0.79f).withTemperature(0.1f));
        for (int i = 0; i < 1_000; i++) {
            assertTrue(sampler.sample(logits) <= 1);
        }
    }

    @Test
    void minPDropsTokensBelowAFractionOfTheBest() {
        float[] logits = logitsOf(0.5, 0.3, 0.15, 0.05);
        // threshold = minP * 0.5
        assertEquals(Set.of(0, 1, 2), tokensSeen(PLAIN.withMinP(0.2f), logits, 3_000));   // 0.1
        assertEquals(Set.of(0, 1), tokensSeen(PLAIN.withMinP(0.35f), logits, 2_000));     // 0.175
        assertEquals(Set.of(0), tokensSeen(PLAIN.withMinP(0.7f), logits, 2_000));         // 0.35
        assertEquals(Set.of(0, 1, 2, 3), tokensSeen(PLAIN.withMinP(0.05f), logits, 5_000)); // 0.025
    }

    @Test
    void chainAppliesTopKBeforeTopP() {
        // top-k 2 leaves {0: 0.4, 1: 0.3}, renormalized to 4/7 and 3/7; top-p 0.5 then keeps only token 0.
        float[] logits = logitsOf(0.4, 0.3, 0.2, 0.1);
        assertEquals(Set.of(0), tokensSeen(PLAIN.withTopK(2).withTopP(0.5f), logits, 1_000));
        assertEquals(Set.of(0, 1), tokensSeen(PLAIN.withTopK(2).withTopP(0.6f), logits, 2_000));
    }

    @Test
    void penaltiesFollowLlamaCpp() {
        SamplerConfig config = PLAIN.withPenalties(1.25f, 4, 0.5f, 0.25f);
        float[] logits = {2f, -1f, 3f, 0.5f, 1f};
        // Window = last 4 of the history: tokens 1, 0, 1, 3 (token 2 is older and left alone).
        int[] history = {2, 1, 0, 1, 3, 99};
        new Sampler(config).applyPenalties(logits, 5, history, 5);
        float[] expected = {
            2f / 1.25f - 1 * 0.25f - 0.5f,     // positive: divided; seen once
            -1f * 1.25f - 2 * 0.25f - 0.5f,    // negative: multiplied; seen twice
            3f,
            0.5f / 1.25f - 1 * 0.25f - 0.5f,
            1f,
        };
        assertArrayEquals(expected, logits, 1e-6f);
    }

    @Test
    void repeatPenaltyChangesTheGreedyChoiceAndLeavesCallerLogitsAlone() {
        float[] logits = {2.0f, 1.9f, -5f};
        float[] copy = logits.clone();
        Sampler penalized = new Sampler(SamplerConfig.greedy().withPenalties(1.1f, 64, 0f, 0f));
        assertEquals(1, penalized.sample(logits, 3, new int[] {0}, 1)); // 2.0 / 1.1 < 1.9
        assertEquals(0, penalized.sample(logits, 3, new int[] {0}, 0)); // empty history: no penalty
        assertArrayEquals(copy, logits);
        Sampler off = new Sampler(SamplerConfig.greedy().withPenalties(1.1f, 0, 0f, 0f));
        assertEquals(0, off.sample(logits, 3, new int[] {0}, 1)); // repeatLastN 0 disables
    }

    @Test
    void defaultsAreLlamaCpps() {
        SamplerConfig d = SamplerConfig.defaults();
        assertEquals(0.8f, d.temperature());
        assertEquals(40, d.topK());
        assertEquals(0.95f, d.topP());
        assertEquals(0.05f, d.minP());
        assertEquals(1.0f, d.repeatPenalty());
        assertEquals(64, d.repeatLastN());
    }

    @Test
    void defaultChainOnAFullVocabularyStaysInTheTopK() {
        float[] logits = randomLogits(151_936, 11);
        float[] sorted = logits.clone();
        java.util.Arrays.sort(sorted);
        float fortiethBest = sorted[sorted.length - 40];
        Sampler sampler = new Sampler(SamplerConfig.defaults().withSeed(5));
        for (int i = 0; i < 200; i++) {
            assertTrue(logits[sampler.sample(logits)] >= fortiethBest);
        }
    }
}
