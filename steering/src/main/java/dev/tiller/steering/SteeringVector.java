package dev.tiller.steering;

import dev.tiller.loader.ArrayText;

import dev.tiller.engine.hooks.HookSite;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A steering vector: one direction per block at one per-block hook site, applied as {@code activation += scale *
 * direction[layer]} at the chosen token positions, optionally rescaling each steered row back to its original norm.
 *
 * @param name           a label (shown in errors and listings)
 * @param site           a per-block site such as {@link HookSite#RESID_POST}
 * @param directions     block index → n_embd floats; blocks not present are not steered
 * @param scale          the vector's own scale; the user's scale multiplies it (negative steers away)
 * @param method         how it was made ("mean", "pca_diff", "trained", ...)
 * @param positions      which tokens are steered
 * @param normPreserving after adding, rescale the row to the norm it had before (Fractional Reasoning's mode)
 */
public record SteeringVector(String name, HookSite site, Map<Integer, float[]> directions, float scale, String method,
                             Positions positions, boolean normPreserving) {

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("SteeringVector[name=").append(name).append(", site=").append(site)
                .append(", scale=").append(scale).append(", method=").append(method).append(", positions=").append(positions)
                .append(normPreserving ? ", norm-preserving" : "").append(", ").append(directions.size()).append(" blocks {");
        directions.forEach((k, v) -> b.append(' ').append(k).append(": ").append(ArrayText.of(v)));
        return b.append(" }]").toString();
    }

    public SteeringVector {
        if (site == null || !site.perLayer) {
            throw new IllegalArgumentException("steering vector '" + name + "': site " + site + " is not a per-block hook site "
                    + "(use hook_resid_pre, hook_attn_out, hook_resid_mid, hook_mlp_out or hook_resid_post)");
        }
        if (directions == null || directions.isEmpty()) throw new IllegalArgumentException("steering vector '" + name + "' has no directions");
        int width = -1;
        TreeMap<Integer, float[]> copy = new TreeMap<>();
        for (var e : directions.entrySet()) {
            if (e.getKey() < 0) throw new IllegalArgumentException("steering vector '" + name + "': layer " + e.getKey() + " is negative");
            float[] d = e.getValue();
            if (width >= 0 && d.length != width) {
                throw new IllegalArgumentException("steering vector '" + name + "': layer " + e.getKey() + " has " + d.length
                        + " values, other layers have " + width);
            }
            for (float f : d) if (!Float.isFinite(f)) throw new IllegalArgumentException("steering vector '" + name + "': layer " + e.getKey() + " holds a non-finite value");
            width = d.length;
            copy.put(e.getKey(), d.clone());
        }
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("steering vector '" + name + "': scale " + scale + " is not finite");
        directions = Collections.unmodifiableMap(copy);
        method = method == null ? "" : method;
        positions = positions == null ? Positions.all() : positions;
        name = name == null ? "" : name;
    }

    /** A vector at scale 1 on every position, not norm-preserving. */
    public static SteeringVector of(String name, HookSite site, Map<Integer, float[]> directions, String method) {
        return new SteeringVector(name, site, directions, 1f, method, Positions.all(), false);
    }

    public int width() {
        return directions.values().iterator().next().length;
    }

    public SteeringVector withScale(float s) {
        return new SteeringVector(name, site, directions, s, method, positions, normPreserving);
    }

    public SteeringVector withPositions(Positions p) {
        return new SteeringVector(name, site, directions, scale, method, p, normPreserving);
    }

    public SteeringVector withNormPreserving(boolean b) {
        return new SteeringVector(name, site, directions, scale, method, positions, b);
    }

    public SteeringVector withSite(HookSite s) {
        return new SteeringVector(name, s, directions, scale, method, positions, normPreserving);
    }

    /** Only the blocks {@code first..last} (inclusive). */
    public SteeringVector restrictedTo(int first, int last) {
        TreeMap<Integer, float[]> m = new TreeMap<>(directions.entrySet().stream()
                .filter(e -> e.getKey() >= first && e.getKey() <= last)
                .collect(java.util.stream.Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue)));
        if (m.isEmpty()) {
            throw new IllegalArgumentException("steering vector '" + name + "' has no layer in " + first + ".." + last + " (it has " + directions.keySet() + ")");
        }
        return new SteeringVector(name, site, m, scale, method, positions, normPreserving);
    }

    /** Moves every direction {@code delta} blocks later (llama.cpp's cvector-generator stores block k−1's measurement as direction.k). */
    public SteeringVector shiftedBy(int delta) {
        TreeMap<Integer, float[]> m = new TreeMap<>();
        directions.forEach((l, d) -> m.put(l + delta, d));
        return new SteeringVector(name, site, m, scale, method, positions, normPreserving);
    }
}
