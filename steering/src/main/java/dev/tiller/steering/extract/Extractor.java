package dev.tiller.steering.extract;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.ActivationCapture;
import dev.tiller.steering.Escapes;
import dev.tiller.steering.SteeringVector;
import dev.tiller.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Extracts a steering vector from contrastive prompt pairs (line i of the positives pairs with line i of the
 * negatives). Two recipes:
 * <ul>
 * <li>Tiller's (default): each prompt is evaluated on its own; its activation at the site is taken at the last token
 * or averaged over its tokens (BOS excluded); the vector for block L is measured at block L and applied there.</li>
 * <li>llama.cpp's cvector-generator (Feb 2025), {@link Options#llamaCppCompat}: BOS added, the shorter prompt of a
 * pair padded with the token of " ", differences of block outputs taken at every position, rows with no element
 * above 1e-6 dropped, then the mean (normalized to unit length) or the uncentered first principal direction;
 * the measurement at block k−1 is stored as direction k, so it acts one block later than measured.</li>
 * </ul>
 * The sign is fixed so that a positive scale moves toward the positive prompts (mean difference projects positively).
 */
public final class Extractor {

    public enum TokenAggregation { LAST, MEAN }

    /**
     * @param firstLayer first block to extract (inclusive); in llama.cpp mode these are the blocks where directions are stored
     * @param normalize  rescale every direction to unit length
     */
    public record Options(ExtractionMethod method, HookSite site, int firstLayer, int lastLayer, TokenAggregation tokens,
                          boolean llamaCppCompat, boolean normalize) {
        public static Options defaults(Model m) {
            return new Options(ExtractionMethod.MEAN, HookSite.RESID_POST, 0, m.config().layers() - 1, TokenAggregation.LAST, false, false);
        }
    }

    private final Model model;

    public Extractor(Model model) {
        this.model = model;
    }

    public SteeringVector extract(List<String> positives, List<String> negatives, Options o) {
        if (positives.size() != negatives.size()) {
            throw new IllegalArgumentException("positive and negative prompts must pair up: " + positives.size() + " positives, " + negatives.size() + " negatives");
        }
        if (positives.isEmpty()) throw new IllegalArgumentException("no prompt pairs to extract from");
        int layers = model.config().layers();
        if (o.firstLayer < 0 || o.lastLayer >= layers || o.firstLayer > o.lastLayer) {
            throw new IllegalArgumentException("--layers " + o.firstLayer + "-" + o.lastLayer + " is outside the model's blocks 0.." + (layers - 1));
        }
        if (!o.site.perLayer) throw new IllegalArgumentException("--site " + o.site.suffix + " is not a per-block site");
        return o.llamaCppCompat ? extractLlamaCpp(positives, negatives, o) : extractTiller(positives, negatives, o);
    }

    private SteeringVector extractTiller(List<String> positives, List<String> negatives, Options o) {
        int n = positives.size();
        Map<Integer, float[][]> pos = new TreeMap<>(), neg = new TreeMap<>();
        for (int l = o.firstLayer; l <= o.lastLayer; l++) {
            pos.put(l, new float[n][]);
            neg.put(l, new float[n][]);
        }
        Tokenizer tok = model.tokenizer();
        for (int i = 0; i < n; i++) {
            for (int side = 0; side < 2; side++) {
                String text = side == 0 ? positives.get(i) : negatives.get(i);
                int[] ids = tok.encode(text, true, true);
                Map<Integer, float[]> f = features(ids, o);
                for (var e : f.entrySet()) (side == 0 ? pos : neg).get(e.getKey())[i] = e.getValue();
            }
        }
        Map<Integer, float[]> dirs = new TreeMap<>();
        for (int l = o.firstLayer; l <= o.lastLayer; l++) dirs.put(l, combine(pos.get(l), neg.get(l), o.method, o.normalize));
        return SteeringVector.of(o.method.cliName(), o.site, dirs, o.method.cliName());
    }

    /** The activation of a prompt at each requested block: last token, or mean over tokens after BOS. */
    private Map<Integer, float[]> features(int[] ids, Options o) {
        Session s = model.newSession(ids.length + 1);
        String[] points = new String[o.lastLayer - o.firstLayer + 1];
        for (int l = o.firstLayer; l <= o.lastLayer; l++) points[l - o.firstLayer] = new HookPoint(o.site, l).name();
        ActivationCapture cap = ActivationCapture.install(s.installHooks(), points);
        s.prefill(ids);
        Map<Integer, float[]> out = new TreeMap<>();
        int skip = ids.length > 1 && ids[0] == model.tokenizer().bosId() ? 1 : 0;
        for (int l = o.firstLayer; l <= o.lastLayer; l++) {
            float[][] rows = cap.rows(points[l - o.firstLayer]);
            if (o.tokens == TokenAggregation.LAST) {
                out.put(l, rows[rows.length - 1]);
            } else {
                float[] m = new float[rows[0].length];
                for (int t = skip; t < rows.length; t++) for (int j = 0; j < m.length; j++) m[j] += rows[t][j];
                for (int j = 0; j < m.length; j++) m[j] /= rows.length - skip;
                out.put(l, m);
            }
        }
        return out;
    }

    /** One direction from paired rows, signed toward the positives. */
    static float[] combine(float[][] pos, float[][] neg, ExtractionMethod method, boolean normalize) {
        int n = pos.length, d = pos[0].length;
        float[][] diff = new float[n][d];
        float[] meanDiff = new float[d];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < d; j++) {
                diff[i][j] = pos[i][j] - neg[i][j];
                meanDiff[j] += diff[i][j] / n;
            }
        }
        float[] v;
        switch (method) {
            case MEAN -> v = meanDiff;
            case PCA_DIFF -> v = scaledToProjection(Pca.firstComponent(diff, true), meanDiff);
            case PCA_CENTER -> {
                float[][] centered = new float[2 * n][d];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < d; j++) {
                        float mid = (pos[i][j] + neg[i][j]) / 2;
                        centered[2 * i][j] = pos[i][j] - mid;
                        centered[2 * i + 1][j] = neg[i][j] - mid;
                    }
                }
                v = scaledToProjection(Pca.firstComponent(centered, false), meanDiff);
            }
            default -> throw new IllegalStateException();
        }
        return normalize ? unit(v) : v;
    }

    /** u (unit) times the mean difference's projection on it: the sign points toward the positives, the size is CAA's along u. */
    private static float[] scaledToProjection(float[] u, float[] meanDiff) {
        double p = 0;
        for (int j = 0; j < u.length; j++) p += (double) u[j] * meanDiff[j];
        float[] v = new float[u.length];
        for (int j = 0; j < u.length; j++) v[j] = (float) (u[j] * p);
        return v;
    }

    static float[] unit(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        float r = s == 0 ? 0f : (float) (1 / Math.sqrt(s));
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * r;
        return out;
    }

    // ---------------------------------------------------------------- llama.cpp's cvector-generator recipe

    private SteeringVector extractLlamaCpp(List<String> positives, List<String> negatives, Options o) {
        if (o.site != HookSite.RESID_POST) throw new IllegalArgumentException("--llama-cpp-compat measures block outputs (hook_resid_post) only");
        if (o.firstLayer < 1) throw new IllegalArgumentException("--llama-cpp-compat: llama.cpp never writes direction.0; start --layers at 1");
        Tokenizer tok = model.tokenizer();
        int[] spaceIds = tok.encode(" ", false, true);
        int pad = spaceIds[spaceIds.length - 1];
        int from = o.firstLayer - 1, to = o.lastLayer - 1;    // measured one block earlier than stored
        Map<Integer, List<float[]>> rows = new TreeMap<>();
        for (int l = from; l <= to; l++) rows.put(l, new ArrayList<>());
        for (int i = 0; i < positives.size(); i++) {
            int[] p = tok.encode(Escapes.unescape(positives.get(i)), true, true), q = tok.encode(Escapes.unescape(negatives.get(i)), true, true);
            int len = Math.max(p.length, q.length);
            p = padTo(p, len, pad);
            q = padTo(q, len, pad);
            ActivationCapture cp = blockOutputs(p, from, to), cq = blockOutputs(q, from, to);
            for (int l = from; l <= to; l++) {
                String name = new HookPoint(HookSite.RESID_POST, l).name();
                float[][] a = cp.rows(name), b = cq.rows(name);
                for (int t = 0; t < len; t++) {
                    float[] d = new float[a[t].length];
                    boolean keep = false;
                    for (int j = 0; j < d.length; j++) {
                        d[j] = a[t][j] - b[t][j];
                        keep |= d[j] > 1e-6f; // llama.cpp's test is signed: a row of only negative values counts as zero
                    }
                    if (keep) rows.get(l).add(d);
                }
            }
        }
        Map<Integer, float[]> dirs = new TreeMap<>();
        for (int l = from; l <= to; l++) {
            float[][] diff = rows.get(l).toArray(float[][]::new);
            if (diff.length == 0) throw new IllegalArgumentException("block " + l + ": every positive/negative difference is zero (identical prompts?)");
            float[] v;
            if (o.method == ExtractionMethod.MEAN) {
                v = new float[diff[0].length];
                for (float[] r : diff) for (int j = 0; j < v.length; j++) v[j] += r[j];
                for (int j = 0; j < v.length; j++) v[j] /= diff.length;
                v = unit(v);
            } else {
                // llama.cpp's "pca": power iteration on DᵀD of the raw differences; its sign is arbitrary, ours points
                // toward the positives
                v = Pca.firstComponent(diff, false);
                double p = 0;
                for (float[] r : diff) for (int j = 0; j < v.length; j++) p += r[j] * v[j];
                if (p < 0) for (int j = 0; j < v.length; j++) v[j] = -v[j];
            }
            dirs.put(l + 1, v);
        }
        String m = o.method == ExtractionMethod.MEAN ? "llama.cpp-mean" : "llama.cpp-pca";
        return SteeringVector.of(m, HookSite.RESID_POST, dirs, m);
    }

    private ActivationCapture blockOutputs(int[] ids, int from, int to) {
        Session s = model.newSession(ids.length + 1);
        String[] points = new String[to - from + 1];
        for (int l = from; l <= to; l++) points[l - from] = new HookPoint(HookSite.RESID_POST, l).name();
        ActivationCapture cap = ActivationCapture.install(s.installHooks(), points);
        s.prefill(ids);
        return cap;
    }

    private static int[] padTo(int[] ids, int len, int pad) {
        int[] out = Arrays.copyOf(ids, len);
        for (int i = ids.length; i < len; i++) out[i] = pad;
        return out;
    }
}
