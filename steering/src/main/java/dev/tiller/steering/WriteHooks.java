package dev.tiller.steering;

import dev.tiller.engine.hooks.Activations;
import dev.tiller.engine.hooks.ForwardHook;

/** Ready-made writing hooks: add a vector, replace rows, or apply a function to each row. */
public final class WriteHooks {

    /** A function of one row, changing {@code row} in place; {@code position} and {@code sequence} say whose row it is. */
    @FunctionalInterface
    public interface RowFunction {
        void apply(float[] row, int position, int sequence);
    }

    /** Adds {@code scale * v} to every row. */
    public static ForwardHook add(float[] v, float scale) {
        return a -> {
            checkWidth(a, v.length);
            for (int t = 0; t < a.tokens(); t++) a.addToRow(t, v, scale);
        };
    }

    /** Overwrites every row with {@code v} (e.g. to patch in an activation from another run). */
    public static ForwardHook replace(float[] v) {
        return a -> {
            checkWidth(a, v.length);
            for (int t = 0; t < a.tokens(); t++) System.arraycopy(v, 0, a.data(), a.rowOffset(t), v.length);
        };
    }

    /** Applies {@code f} to each row (copied out, changed, copied back). */
    public static ForwardHook apply(RowFunction f) {
        return a -> {
            float[] row = new float[a.width()];
            for (int t = 0; t < a.tokens(); t++) {
                System.arraycopy(a.data(), a.rowOffset(t), row, 0, row.length);
                f.apply(row, a.position(t), a.sequence(t));
                System.arraycopy(row, 0, a.data(), a.rowOffset(t), row.length);
            }
        };
    }

    private static void checkWidth(Activations a, int n) {
        if (n != a.width()) throw new IllegalArgumentException("vector of " + n + " values written at " + a.point() + ", which is " + a.width() + " wide");
    }

    private WriteHooks() {}
}
