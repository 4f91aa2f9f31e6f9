package dev.tiller.steering.controlvector;

import dev.tiller.loader.ArrayText;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A llama.cpp control vector: one direction per block, added (times a scale) to the output of that block, i.e. to
 * {@code blocks.N.hook_resid_post}. llama.cpp never steers block 0, so files have no {@code direction.0}.
 *
 * @param modelHint the architecture the vector was made for ({@code controlvector.model_hint})
 * @param directions block index → direction (n_embd floats)
 */
public record ControlVector(String modelHint, int embeddingLength, Map<Integer, float[]> directions) {

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("ControlVector[modelHint=").append(modelHint).append(", embeddingLength=")
                .append(embeddingLength).append(", ").append(directions.size()).append(" blocks {");
        directions.forEach((k, v) -> b.append(' ').append(k).append(": ").append(ArrayText.of(v)));
        return b.append(" }]").toString();
    }

    public ControlVector {
        directions = Collections.unmodifiableMap(new TreeMap<>(directions));
    }

    /** The sum of several vectors, each times its scale (llama.cpp's behaviour for repeated --control-vector flags). */
    public static ControlVector sum(Iterable<ControlVector> vectors, Iterable<Float> scales) {
        TreeMap<Integer, float[]> out = new TreeMap<>();
        var si = scales.iterator();
        String hint = null;
        int n = -1;
        for (ControlVector v : vectors) {
            float s = si.next();
            if (n >= 0 && v.embeddingLength != n) {
                throw new IllegalArgumentException("control vectors have different widths: " + n + " and " + v.embeddingLength);
            }
            n = v.embeddingLength;
            hint = hint == null ? v.modelHint : hint;
            for (var e : v.directions.entrySet()) {
                float[] acc = out.computeIfAbsent(e.getKey(), k -> new float[v.embeddingLength]);
                float[] d = e.getValue();
                for (int i = 0; i < d.length; i++) acc[i] += s * d[i];
            }
        }
        return new ControlVector(hint, n, out);
    }

    /** This vector as a steering vector at {@code blocks.N.hook_resid_post}, every position, scale 1. */
    public dev.tiller.steering.SteeringVector toSteeringVector(String name) {
        return dev.tiller.steering.SteeringVector.of(name, dev.tiller.engine.hooks.HookSite.RESID_POST, directions, "llama.cpp-control-vector");
    }

    /**
     * A steering vector in llama.cpp's form, its scale multiplied in. Only what llama.cpp can express converts: the
     * resid_post site, every position, not norm-preserving.
     */
    public static ControlVector from(dev.tiller.steering.SteeringVector v, String modelHint) {
        if (v.site() != dev.tiller.engine.hooks.HookSite.RESID_POST) {
            throw new IllegalArgumentException("steering vector '" + v.name() + "' acts at " + v.site().suffix
                    + "; llama.cpp control vectors act at a block's output (hook_resid_post) only");
        }
        if (v.positions().kind() != dev.tiller.steering.Positions.Kind.ALL || v.normPreserving()) {
            throw new IllegalArgumentException("steering vector '" + v.name() + "' uses positions '" + v.positions() + "'"
                    + (v.normPreserving() ? " and norm preservation" : "") + ", which llama.cpp control vectors cannot express");
        }
        TreeMap<Integer, float[]> d = new TreeMap<>();
        v.directions().forEach((l, x) -> {
            float[] y = x.clone();
            if (v.scale() != 1f) for (int i = 0; i < y.length; i++) y[i] *= v.scale();
            d.put(l, y);
        });
        return new ControlVector(modelHint, v.width(), d);
    }
}
