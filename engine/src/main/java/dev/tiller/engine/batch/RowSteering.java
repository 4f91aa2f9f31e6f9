package dev.tiller.engine.batch;

import dev.tiller.engine.hooks.HookPoint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one request's steering does to its own rows: hooks by point. Several steerings of one request are combined
 * with {@link #combine}.
 */
public record RowSteering(Map<HookPoint, List<RowHook>> hooks) {
    public static final RowSteering NONE = new RowSteering(Map.of());

    public RowSteering {
        Map<HookPoint, List<RowHook>> m = new LinkedHashMap<>();
        hooks.forEach((k, v) -> m.put(k, List.copyOf(v)));
        hooks = Map.copyOf(m);
    }

    public static RowSteering combine(List<RowSteering> parts) {
        if (parts.isEmpty()) return NONE;
        if (parts.size() == 1) return parts.getFirst();
        Map<HookPoint, List<RowHook>> m = new LinkedHashMap<>();
        for (RowSteering p : parts) p.hooks.forEach((k, v) -> m.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
        return new RowSteering(m);
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
