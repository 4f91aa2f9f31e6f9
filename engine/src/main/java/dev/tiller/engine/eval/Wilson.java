package dev.tiller.engine.eval;

/** Wilson score interval of a binomial proportion. */
public record Wilson(double low, double high) {

    /** @param z 1.96 for 95% */
    public static Wilson interval(int successes, int n, double z) {
        if (n == 0) return new Wilson(0, 1);
        double p = (double) successes / n;
        double z2 = z * z;
        double denom = 1 + z2 / n;
        double centre = (p + z2 / (2 * n)) / denom;
        double half = z * Math.sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / denom;
        return new Wilson(Math.max(0, centre - half), Math.min(1, centre + half));
    }
}
