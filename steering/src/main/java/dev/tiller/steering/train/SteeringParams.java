package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;

import java.util.Arrays;

/**
 * The trainable numbers, all in one flat float64 array {@link #theta} (so the optimizer sees one vector):
 * <ul>
 *   <li>one bias vector per chosen layer, added to every row at hook site {@link #site} of that layer ("bias-only"
 *       steering; for {@code hook_embed} there is one vector, layer -1);</li>
 *   <li>{@link #prefixLength} prefix vectors: virtual tokens at positions 0..K-1 whose embeddings (at
 *       {@code hook_embed}) are the vectors themselves ("test-time steering vectors").</li>
 * </ul>
 * Layout: bias i at [i*dim, (i+1)*dim), then prefix k at [(biases + k)*dim, ...).
 */
public final class SteeringParams {
    public static final java.util.Set<HookSite> BIAS_SITES = java.util.EnumSet.of(HookSite.EMBED, HookSite.RESID_PRE,
            HookSite.ATTN_OUT, HookSite.RESID_MID, HookSite.MLP_OUT, HookSite.RESID_POST);

    public final int dim;
    public final HookSite site;
    public final int[] layers;
    public final int prefixLength;
    public final double[] theta;
    /** layer → index into {@link #layers}, or -1 (length: model layers; for EMBED the single vector is index 0). */
    private final int[] biasIndex;

    public SteeringParams(int dim, int modelLayers, HookSite site, int[] layers, int prefixLength) {
        if (site != null && !BIAS_SITES.contains(site)) throw new IllegalArgumentException("bias vectors go at a residual-stream site, not " + site.suffix);
        if (prefixLength < 0) throw new IllegalArgumentException("prefix length must be >= 0");
        this.dim = dim;
        this.site = site;
        this.layers = site == null ? new int[0] : site == HookSite.EMBED ? new int[]{-1} : layers.clone();
        this.prefixLength = prefixLength;
        this.biasIndex = new int[Math.max(1, modelLayers)];
        Arrays.fill(biasIndex, -1);
        if (site == HookSite.EMBED) biasIndex[0] = 0;
        else for (int i = 0; i < this.layers.length; i++) {
            int l = this.layers[i];
            if (l < 0 || l >= modelLayers) throw new IllegalArgumentException("layer " + l + " is outside the model's blocks 0.." + (modelLayers - 1));
            if (biasIndex[l] >= 0) throw new IllegalArgumentException("layer " + l + " given twice");
            biasIndex[l] = i;
        }
        this.theta = new double[(this.layers.length + prefixLength) * dim];
    }

    public int size() {
        return theta.length;
    }

    /** Offset into theta of the bias added at (site, layer), or -1 when there is none. */
    public int biasOffset(HookSite s, int layer) {
        if (s != site) return -1;
        int i = s == HookSite.EMBED ? biasIndex[0] : (layer >= 0 && layer < biasIndex.length ? biasIndex[layer] : -1);
        return i < 0 ? -1 : i * dim;
    }

    public int prefixOffset(int k) {
        return (layers.length + k) * dim;
    }

    public SteeringParams copy() {
        SteeringParams p = new SteeringParams(dim, biasIndex.length, site, layers, prefixLength);
        System.arraycopy(theta, 0, p.theta, 0, theta.length);
        return p;
    }

    public float[] bias(int i) {
        float[] f = new float[dim];
        for (int j = 0; j < dim; j++) f[j] = (float) theta[i * dim + j];
        return f;
    }

    public float[] prefix(int k) {
        float[] f = new float[dim];
        int o = prefixOffset(k);
        for (int j = 0; j < dim; j++) f[j] = (float) theta[o + j];
        return f;
    }

    /**
     * Installs these vectors as forward hooks on the float engine: biases are added to every row at their point;
     * prefix vectors replace the embeddings of the rows at positions 0..K-1, so the caller must start the sequence
     * with K placeholder tokens ({@link #withPlaceholders}).
     */
    public void install(Hooks hooks) {
        for (int i = 0; i < layers.length; i++) {
            float[] b = bias(i);
            hooks.add(new HookPoint(site, layers[i]), a -> {
                for (int t = 0; t < a.tokens(); t++) a.addToRow(t, b, 1f);
            });
        }
        if (prefixLength > 0) {
            float[][] pre = new float[prefixLength][];
            for (int k = 0; k < prefixLength; k++) pre[k] = prefix(k);
            dev.tiller.steering.PrefixVectors.install(hooks, pre);
        }
    }

    /** The tokens the float engine must see: K placeholders, then the sequence. */
    public int[] withPlaceholders(int[] tokens) {
        return dev.tiller.steering.PrefixVectors.placeholdersBefore(prefixLength, tokens);
    }

    public double norm() {
        double s = 0;
        for (double v : theta) s += v * v;
        return Math.sqrt(s);
    }
}
