package dev.tiller.loader;

import java.util.Locale;

/**
 * Arrays as text for {@code toString}: the values, at most {@link #SHOWN} of them, then how many there are in all —
 * so a record holding token ids or a vector prints what it holds rather than {@code [I@75412c2f}.
 */
public final class ArrayText {
    /** Values printed before the rest is summarised. */
    public static final int SHOWN = 16;

    public static String of(int[] a) {
        if (a == null) return "null";
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < Math.min(a.length, SHOWN); i++) b.append(i > 0 ? ", " : "").append(a[i]);
        return tail(b, a.length);
    }

    public static String of(long[] a) {
        if (a == null) return "null";
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < Math.min(a.length, SHOWN); i++) b.append(i > 0 ? ", " : "").append(a[i]);
        return tail(b, a.length);
    }

    /** Floats with 4 significant digits; a long vector also shows its L2 norm. */
    public static String of(float[] a) {
        if (a == null) return "null";
        StringBuilder b = new StringBuilder("[");
        double sq = 0;
        for (float v : a) sq += (double) v * v;
        for (int i = 0; i < Math.min(a.length, SHOWN); i++) b.append(i > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.4g", a[i]));
        String s = tail(b, a.length);
        return a.length > SHOWN ? s + String.format(Locale.ROOT, " |x|=%.4g", Math.sqrt(sq)) : s;
    }

    private static String tail(StringBuilder b, int n) {
        if (n > SHOWN) b.append(", ... (").append(n).append(" in all)");
        return b.append(']').toString();
    }

    private ArrayText() {}
}
