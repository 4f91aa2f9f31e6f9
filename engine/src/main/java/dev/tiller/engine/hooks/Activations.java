package dev.tiller.engine.hooks;

/**
 * A hook's view of one intermediate tensor of the forward pass: {@code tokens} rows of {@code width} floats, row t
 * being the token at position {@link #position(int)} of the sequence tagged {@link #sequence(int)} (a prefill has one
 * sequence at consecutive positions; a batched decode step one row per sequence). A reading hook copies what it needs; a writing hook
 * changes {@code data} in place and the forward pass continues with the changed values.
 */
public final class Activations {
    private final HookPoint point;
    private final float[] data;
    private final int tokens;
    private final int width;
    private final int[] positions;
    private final int[] sequences;

    public Activations(HookPoint point, float[] data, int tokens, int width, int[] positions, int[] sequences) {
        this.point = point;
        this.data = data;
        this.tokens = tokens;
        this.width = width;
        this.positions = positions;
        this.sequences = sequences;
    }

    public HookPoint point() { return point; }

    /** The backing array; row t starts at {@link #rowOffset(int)}. */
    public float[] data() { return data; }

    public int tokens() { return tokens; }

    public int width() { return width; }

    /** The position of row t in its sequence. */
    public int position(int t) { return positions[t]; }

    /** The caller's tag of row t's sequence. */
    public int sequence(int t) { return sequences[t]; }

    public int rowOffset(int t) {
        return t * width;
    }

    public float[] copyRow(int t) {
        float[] r = new float[width];
        System.arraycopy(data, rowOffset(t), r, 0, width);
        return r;
    }

    public void addToRow(int t, float[] v, float scale) {
        int o = rowOffset(t);
        for (int i = 0; i < width; i++) data[o + i] += scale * v[i];
    }
}
