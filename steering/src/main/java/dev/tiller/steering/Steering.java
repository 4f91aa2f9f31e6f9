package dev.tiller.steering;

import dev.tiller.engine.hooks.RowVectorAdd;

import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Activations;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Applies steering vectors to a model's forward passes. Several vectors add up; each may be limited to some
 * sequences of a batch (by the tag that {@link Activations#sequence} reports), to some token positions, and may be
 * norm-preserving. Everything is checked against the model when added, so a bad vector fails before generating.
 *
 * <pre>{@code
 * new Steering(model.config()).add(vector, 0.8f).add(other, -0.3f, seq -> seq == 1).install(session);
 * }</pre>
 */
public final class Steering {
    private final ModelConfig config;
    private final PromptTracker prompts = new PromptTracker();
    private final List<Entry> entries = new ArrayList<>();

    private record Entry(SteeringVector vector, float scale, IntPredicate sequences) {}

    public Steering(ModelConfig config) {
        this.config = config;
    }

    public Steering add(SteeringVector v, float scale) {
        return add(v, scale, null);
    }

    /** @param sequences which sequence tags to steer; null = all */
    public Steering add(SteeringVector v, float scale, IntPredicate sequences) {
        check(v, config);
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("steering vector '" + v.name() + "': scale " + scale + " is not finite");
        entries.add(new Entry(v, scale, sequences));
        return this;
    }

    /** Rejects a vector whose width or layers do not fit the model, naming what is wrong. */
    public static void check(SteeringVector v, ModelConfig c) {
        if (v.width() != c.dim()) {
            throw new IllegalArgumentException("steering vector '" + v.name() + "' has width " + v.width() + " but the model's n_embd is " + c.dim());
        }
        int last = v.directions().keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
        if (last >= c.layers()) {
            throw new IllegalArgumentException("steering vector '" + v.name() + "' has a direction for layer " + last
                    + " but the model has " + c.layers() + " blocks (0.." + (c.layers() - 1) + ")");
        }
    }

    public PromptTracker prompts() {
        return prompts;
    }

    /** Installs on the session's hooks (creating a hook set if it has none). */
    public Steering install(Session session) {
        install(session.hooks() == Hooks.NONE ? session.installHooks() : session.hooks());
        return this;
    }

    public Steering install(Hooks hooks) {
        for (Entry e : entries) {
            for (var d : e.vector.directions().entrySet()) {
                float[] dir = d.getValue();
                float s = e.scale * e.vector.scale();
                if (s == 0f) continue;
                HookPoint at = new HookPoint(e.vector.site(), d.getKey());
                if (e.vector.positions().kind() == Positions.Kind.ALL && !e.vector.normPreserving() && e.sequences == null) {
                    hooks.add(at, new RowVectorAdd(dir, s)); // every row: the plain add, which a GPU pass runs on the device
                    continue;
                }
                hooks.add(at, new AddHook(dir, s, e.vector.positions(), e.vector.normPreserving(), e.sequences, prompts));
            }
        }
        return this;
    }

    /** Adds {@code scale * direction} to the selected rows; the whole per-token cost of steering is here. */
    private record AddHook(float[] direction, float scale, Positions positions, boolean normPreserving, IntPredicate sequences,
                           PromptTracker prompts) implements dev.tiller.engine.hooks.ForwardHook {
        @Override
        public void apply(Activations a) {
            boolean everywhere = positions.kind() == Positions.Kind.ALL;
            if (!everywhere) prompts.observe(a);
            for (int t = 0; t < a.tokens(); t++) {
                int seq = a.sequence(t);
                if (sequences != null && !sequences.test(seq)) continue;
                if (!everywhere && !positions.includes(a.position(t), prompts.promptLength(seq))) continue;
                if (normPreserving) RowOps.addKeepingNorm(a, t, direction, scale);
                else a.addToRow(t, direction, scale);
            }
        }
    }
}
