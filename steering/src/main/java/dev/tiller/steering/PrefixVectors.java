package dev.tiller.steering;

import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;

import java.util.List;

/**
 * Prefix vectors ("test-time steering vectors"): K virtual tokens before the prompt whose embeddings are trained
 * vectors. The sequence starts with K placeholder tokens; a {@code hook_embed} hook overwrites the embeddings at
 * positions 0..K-1 with the vectors.
 */
public final class PrefixVectors {
    /** Token id put at the placeholder positions; its embedding is replaced, so any valid id serves. */
    public static final int PLACEHOLDER_TOKEN = dev.tiller.engine.batch.RowSteering.PLACEHOLDER_TOKEN;

    private final int count;

    private PrefixVectors(int count) {
        this.count = count;
    }

    /** Installs the vectors on the session's hooks; {@code scale} multiplies them. */
    public static PrefixVectors install(Session session, List<float[]> vectors, float scale) {
        int dim = session.model().config().dim();
        float[][] pre = new float[vectors.size()][];
        for (int k = 0; k < pre.length; k++) {
            float[] v = vectors.get(k);
            if (v.length != dim) throw new IllegalArgumentException("prefix vector " + k + " has " + v.length + " values, the model's n_embd is " + dim);
            pre[k] = new float[dim];
            for (int i = 0; i < dim; i++) pre[k][i] = scale * v[i];
        }
        install(session.hooks() == Hooks.NONE ? session.installHooks() : session.hooks(), pre);
        return new PrefixVectors(pre.length);
    }

    /** The {@code hook_embed} hook that puts vector k in place of the embedding at position k. */
    public static void install(Hooks hooks, float[][] vectors) {
        hooks.add(new HookPoint(HookSite.EMBED, -1), a -> {
            for (int t = 0; t < a.tokens(); t++) {
                int p = a.position(t);
                if (p < vectors.length) System.arraycopy(vectors[p], 0, a.data(), a.rowOffset(t), a.width());
            }
        });
    }

    public int count() {
        return count;
    }

    /** K placeholders, then the prompt. */
    public int[] placeholdersBefore(int[] prompt) {
        return placeholdersBefore(count, prompt);
    }

    /** {@code count} placeholders, then the prompt. */
    public static int[] placeholdersBefore(int count, int[] prompt) {
        int[] out = new int[count + prompt.length];
        java.util.Arrays.fill(out, 0, count, PLACEHOLDER_TOKEN);
        System.arraycopy(prompt, 0, out, count, prompt.length);
        return out;
    }
}
