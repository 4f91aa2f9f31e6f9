package dev.tiller.steering.extract;

/** The first principal direction of a set of rows, by power iteration on their d×d second-moment matrix. */
final class Pca {

    /**
     * @param center subtract the rows' mean first (ordinary PCA); false gives the top right singular vector of the
     *               raw rows, which is what llama.cpp's cvector-generator computes
     * @return a unit vector
     */
    static float[] firstComponent(float[][] rows, boolean center) {
        int d = rows[0].length, n = rows.length;
        double[] mean = new double[d];
        if (center) {
            for (float[] r : rows) for (int i = 0; i < d; i++) mean[i] += r[i];
            for (int i = 0; i < d; i++) mean[i] /= n;
        }
        double[][] c = new double[d][d];
        double[] x = new double[d];
        for (float[] r : rows) {
            for (int i = 0; i < d; i++) x[i] = r[i] - mean[i];
            for (int i = 0; i < d; i++) {
                double xi = x[i];
                if (xi == 0) continue;
                double[] ci = c[i];
                for (int j = 0; j < d; j++) ci[j] += xi * x[j];
            }
        }
        // start from the rows' mean direction (plus a fixed spread, in case the mean is zero): deterministic, and
        // never orthogonal to the answer in practice
        double[] v = new double[d];
        for (float[] r : rows) for (int i = 0; i < d; i++) v[i] += r[i];
        for (int i = 0; i < d; i++) v[i] += 1e-3 * Math.cos(i + 1.0);
        normalize(v);
        double[] w = new double[d];
        for (int iter = 0; iter < 2000; iter++) {
            for (int i = 0; i < d; i++) {
                double s = 0;
                double[] ci = c[i];
                for (int j = 0; j < d; j++) s += ci[j] * v[j];
                w[i] = s;
            }
            if (normalize(w) == 0) break;
            double delta = 0;
            for (int i = 0; i < d; i++) delta += (w[i] - v[i]) * (w[i] - v[i]);
            double[] t = v;
            v = w;
            w = t;
            if (delta < 1e-20) break;
        }
        float[] out = new float[d];
        for (int i = 0; i < d; i++) out[i] = (float) v[i];
        return out;
    }

    private static double normalize(double[] v) {
        double s = 0;
        for (double x : v) s += x * x;
        s = Math.sqrt(s);
        if (s > 0) for (int i = 0; i < v.length; i++) v[i] /= s;
        return s;
    }

    private Pca() {}
}
