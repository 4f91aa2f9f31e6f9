package dev.tiller.steering;

import dev.tiller.engine.hooks.Activations;

/** Small in-place operations on one row of activations. */
public final class RowOps {

    static double norm(float[] x, int off, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) s += (double) x[off + i] * x[off + i];
        return Math.sqrt(s);
    }

    /** Adds {@code scale * v} to row t, then rescales the row to its norm before the addition. */
    public static void addKeepingNorm(Activations a, int t, float[] v, float scale) {
        float[] d = a.data();
        int o = a.rowOffset(t), n = a.width();
        double before = norm(d, o, n);
        a.addToRow(t, v, scale);
        double after = norm(d, o, n);
        if (after == 0) return;
        float r = (float) (before / after);
        for (int i = 0; i < n; i++) d[o + i] *= r;
    }

    private RowOps() {}
}
