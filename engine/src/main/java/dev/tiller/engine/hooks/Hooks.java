package dev.tiller.engine.hooks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The hooks installed for a forward pass, by point. Lookup is a precomputed array index so that a forward pass with
 * no hooks installed pays one array read per site and nothing else.
 */
public final class Hooks {
    public static final Hooks NONE = new Hooks(0);

    private final int layers;
    private final List<ForwardHook>[] bySlot;
    private boolean empty = true;

    @SuppressWarnings("unchecked")
    public Hooks(int layers) {
        this.layers = layers;
        this.bySlot = new List[HookSite.values().length * Math.max(1, layers) + HookSite.values().length];
    }

    private int slot(HookSite site, int layer) {
        return site.perLayer ? HookSite.values().length + site.ordinal() * layers + layer : site.ordinal();
    }

    public Hooks add(HookPoint point, ForwardHook hook) {
        if (this == NONE) throw new UnsupportedOperationException("Hooks.NONE is immutable");
        if (point.site().perLayer && (point.layer() >= layers)) {
            throw new IllegalArgumentException("hook point " + point + " is past the model's last block (" + (layers - 1) + ")");
        }
        int s = slot(point.site(), point.layer());
        if (bySlot[s] == null) bySlot[s] = new ArrayList<>(2);
        bySlot[s].add(hook);
        empty = false;
        return this;
    }

    public Hooks add(String pointName, ForwardHook hook) {
        return add(HookPoint.parse(pointName), hook);
    }

    public boolean isEmpty() {
        return empty;
    }

    public boolean has(HookSite site, int layer) {
        return !empty && bySlot[slot(site, layer)] != null;
    }

    /** The hooks installed at a point, in the order they run (empty when none). */
    public List<ForwardHook> at(HookSite site, int layer) {
        if (empty) return List.of();
        List<ForwardHook> list = bySlot[slot(site, layer)];
        return list == null ? List.of() : Collections.unmodifiableList(list);
    }

    /** Runs the hooks at a point if there are any; allocates nothing otherwise. */
    public void run(HookSite site, int layer, float[] data, int tokens, int width, int[] positions, int[] sequences) {
        if (empty) return;
        List<ForwardHook> list = bySlot[slot(site, layer)];
        if (list == null) return;
        Activations a = new Activations(new HookPoint(site, layer), data, tokens, width, positions, sequences);
        for (int i = 0; i < list.size(); i++) list.get(i).apply(a);
    }

    /** The installed points, for diagnostics. */
    public Map<String, Integer> describe() {
        Map<String, Integer> m = new TreeMap<>();
        for (HookSite site : HookSite.values()) {
            int n = site.perLayer ? layers : 1;
            for (int l = 0; l < n; l++) {
                List<ForwardHook> list = bySlot[slot(site, site.perLayer ? l : -1)];
                if (list != null) m.put(new HookPoint(site, l).name(), list.size());
            }
        }
        return Collections.unmodifiableMap(m);
    }
}
