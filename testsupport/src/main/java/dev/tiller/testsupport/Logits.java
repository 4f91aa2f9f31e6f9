package dev.tiller.testsupport;

/** Small helpers over logit rows. */
public final class Logits {

    /** The index of the largest of all values; the first one on a tie. */
    public static int argmax(float[] x) {
        return argmax(x, x.length);
    }

    /** The index of the largest of the first {@code n} values (a row of a wider buffer); the first one on a tie. */
    public static int argmax(float[] x, int n) {
        if (n <= 0 || n > x.length) throw new IllegalArgumentException("n = " + n + " for " + x.length + " values");
        int best = 0;
        for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    private Logits() {}
}
