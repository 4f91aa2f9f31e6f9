package dev.tiller.engine.hooks;

/**
 * A hook's view of one intermediate tensor of the forward pass: {@code tokens} rows of {@code width} floats, row t
 * being the token at sequence position {@code firstPosition + t}. A reading hook copies what it needs; a writing hook
 * changes {@code data} in place and the forward pass continues with the changed values.
 */
public final class Activations {
    private final HookPoint point;
    private final float[] data;
    private final int offset;
    private final int tokens;
    private final int width;
    private final int firstPosition;

    public Activations(HookPoint point, float[] data, int offset, int tokens, int width, int firstPosition) {
        this.point = point;
        this.data = data;
        this.offset = offset;
        this.tokens = tokens;
        this.width = width;
        this.firstPosition = firstPosition;
    }

    public HookPoint point() { return point; }

    /** The backing array; row t starts at {@link #rowOffset(int)}. */
    public float[] data() { return data; }

    public int tokens() { return tokens; }

    public int width() { return width; }

    public int firstPosition() { return firstPosition; }

    public int position(int t) { return firstPosition + t; }

    public int rowOffset(int t) {
        return offset + t * width;
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
