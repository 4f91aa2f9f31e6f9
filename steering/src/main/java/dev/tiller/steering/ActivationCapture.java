package dev.tiller.steering;

import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Activations;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.Hooks;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Records activations at a set of hook points, one row per evaluated token, with the token's position and sequence
 * tag, across as many forward passes as run while it is installed.
 *
 * <pre>{@code
 * ActivationCapture cap = ActivationCapture.install(session.installHooks(), "blocks.2.hook_resid_post", "ln_final");
 * session.prefill(tokens);
 * float[][] rows = cap.rows("blocks.2.hook_resid_post");   // [tokens][n_embd]
 * }</pre>
 */
public final class ActivationCapture {

    /** One captured row. */
    public record Row(int position, int sequence, float[] values) {
        @Override
        public String toString() {
            return "Row[position=" + position + ", sequence=" + sequence + ", values=" + dev.tiller.loader.ArrayText.of(values) + "]";
        }
    }

    private final Map<HookPoint, List<Row>> rows = new LinkedHashMap<>();

    private ActivationCapture() {}

    public static ActivationCapture install(Hooks hooks, String... pointNames) {
        return install(hooks, Arrays.stream(pointNames).map(HookPoint::parse).toList());
    }

    public static ActivationCapture install(Hooks hooks, List<HookPoint> points) {
        if (points.isEmpty()) throw new IllegalArgumentException("capture: no hook points given");
        ActivationCapture c = new ActivationCapture();
        for (HookPoint p : points) {
            List<Row> list = new ArrayList<>();
            if (c.rows.put(p, list) != null) continue;
            hooks.add(p, (Activations a) -> {
                for (int t = 0; t < a.tokens(); t++) list.add(new Row(a.position(t), a.sequence(t), a.copyRow(t)));
            });
        }
        return c;
    }

    /** Installs on the session's hook set (creating one if it has none). */
    public static ActivationCapture install(Session session, String... pointNames) {
        return install(session.hooks() == Hooks.NONE ? session.installHooks() : session.hooks(), pointNames);
    }

    public List<HookPoint> points() {
        return List.copyOf(rows.keySet());
    }

    /** All rows captured at a point, in evaluation order: [tokens][width]. */
    public float[][] rows(String point) {
        return list(point).stream().map(Row::values).toArray(float[][]::new);
    }

    /** The rows of one sequence only. */
    public float[][] rows(String point, int sequence) {
        return list(point).stream().filter(r -> r.sequence == sequence).map(Row::values).toArray(float[][]::new);
    }

    /** The rows with their positions and sequence tags. */
    public List<Row> list(String point) {
        List<Row> l = rows.get(HookPoint.parse(point));
        if (l == null) throw new IllegalArgumentException("capture: point '" + point + "' was not captured (captured: " + rows.keySet() + ")");
        return l;
    }

    /** The last captured row at a point. */
    public float[] last(String point) {
        List<Row> l = list(point);
        if (l.isEmpty()) throw new IllegalStateException("capture: nothing captured at '" + point + "' yet");
        return l.getLast().values;
    }

    /** The mean of the rows captured at a point. */
    public float[] mean(String point) {
        List<Row> l = list(point);
        if (l.isEmpty()) throw new IllegalStateException("capture: nothing captured at '" + point + "' yet");
        float[] m = new float[l.getFirst().values.length];
        for (Row r : l) for (int i = 0; i < m.length; i++) m[i] += r.values[i];
        for (int i = 0; i < m.length; i++) m[i] /= l.size();
        return m;
    }

    /** Forgets what was captured (the hooks stay installed). */
    public void clear() {
        rows.values().forEach(List::clear);
    }
}
