package dev.tiller.engine.batch;

import dev.tiller.engine.hooks.HookPoint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one request's steering does to its own rows: hooks by point, and how many placeholder tokens the engine puts
 * before the request's prompt ({@code prefixTokens}: prefix vectors, whose {@code hook_embed} row hook puts vector k in
 * place of the embedding at position k). Several steerings of one request are combined with {@link #combine}.
 */
public record RowSteering(Map<HookPoint, List<RowHook>> hooks, int prefixTokens) {
    public static final RowSteering NONE = new RowSteering(Map.of());

    /** The token id at the placeholder positions: its embedding is replaced, so any valid id serves. */
    public static final int PLACEHOLDER_TOKEN = 0;

    public RowSteering {
        if (prefixTokens < 0) throw new IllegalArgumentException("prefix tokens must be >= 0, got " + prefixTokens);
        Map<HookPoint, List<RowHook>> m = new LinkedHashMap<>();
        hooks.forEach((k, v) -> m.put(k, List.copyOf(v)));
        hooks = Map.copyOf(m);
    }

    public RowSteering(Map<HookPoint, List<RowHook>> hooks) {
        this(hooks, 0);
    }

    /** Fails when two parts bring prefix vectors: each would put its own vectors at positions 0..K-1. */
    public static RowSteering combine(List<RowSteering> parts) {
        if (parts.isEmpty()) return NONE;
        if (parts.size() == 1) return parts.getFirst();
        Map<HookPoint, List<RowHook>> m = new LinkedHashMap<>();
        int prefix = 0;
        for (RowSteering p : parts) {
            p.hooks.forEach((k, v) -> m.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
            if (p.prefixTokens > 0 && prefix > 0) throw new IllegalArgumentException("a request can have prefix vectors from one steering only");
            prefix += p.prefixTokens;
        }
        return new RowSteering(m, prefix);
    }

    /**
     * Prefix vectors as a row steering: K placeholder tokens before the prompt, and at {@code hook_embed} the row at
     * position k gets {@code vectors[k]} in place of its embedding (whatever position the row has in the batch, so
     * chunked prefill and decode steps are alike).
     */
    public static RowSteering prefixVectors(float[][] vectors) {
        float[][] v = vectors.clone();
        RowHook put = (a, row) -> {
            int pos = a.position(row);
            if (pos < v.length) System.arraycopy(v[pos], 0, a.data(), a.rowOffset(row), a.width());
        };
        return new RowSteering(Map.of(new HookPoint(dev.tiller.engine.hooks.HookSite.EMBED, -1), List.of(put)), v.length);
    }

    /** Adds {@code scale * direction} to the row at {@code point}. */
    public static RowHook addVector(float[] direction, float scale) {
        return new RowAdd(direction, scale);
    }

    /** The plain row add, which a GPU pass can do on the device (see {@link dev.tiller.engine.hooks.PerSequenceAdds}). */
    public record RowAdd(float[] direction, float scale) implements RowHook {
        @Override
        public void apply(dev.tiller.engine.hooks.Activations a, int row) {
            a.addToRow(row, direction, scale);
        }
    }
}
