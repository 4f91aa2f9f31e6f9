package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.hf.HFModelFolder;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Gemma 2 in float64, written from Hugging Face's description of the model and nothing of the engine: it reads the F32
 * safetensors of an HF folder under their HF names and its config.json, and applies the norms as HF does
 * ({@code x · (1 + w)}). One sequence, no cache, every position recomputed. It records the activations at the
 * TransformerLens hook names, and can add a vector at one of them (what steering does).
 */
final class Gemma2Reference {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final HFModelFolder f;
    final int dim, layers, heads, kvHeads, headDim, ffn, window;
    final double eps, theta, queryPreAttnScalar;
    double attnCap, finalCap;
    boolean slidingWindow = true;
    /** Activations by hook name ("blocks.L.hook_resid_post"), [position][width], from the last {@link #forward}. */
    final Map<String, double[][]> acts = new LinkedHashMap<>();
    private String steerAt;
    private double[] steerVector;

    Gemma2Reference(Path dir) throws IOException {
        JsonNode c = new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        f = HFModelFolder.open(dir);
        dim = c.get("hidden_size").asInt();
        layers = c.get("num_hidden_layers").asInt();
        heads = c.get("num_attention_heads").asInt();
        kvHeads = c.get("num_key_value_heads").asInt();
        headDim = c.get("head_dim").asInt();
        ffn = c.get("intermediate_size").asInt();
        window = c.get("sliding_window").asInt();
        eps = c.get("rms_norm_eps").asDouble();
        theta = c.get("rope_theta").asDouble();
        queryPreAttnScalar = c.get("query_pre_attn_scalar").asDouble();
        attnCap = c.get("attn_logit_softcapping").asDouble();
        finalCap = c.get("final_logit_softcapping").asDouble();
    }

    /** Adds {@code v} to the activations at hook {@code name}, at every position, as a steering vector does. */
    Gemma2Reference steer(String name, double[] v) {
        steerAt = name;
        steerVector = v;
        return this;
    }

    private double[] vec(String name) {
        Tensor t = f.tensor(name);
        double[] v = new double[(int) t.elementCount()];
        for (int i = 0; i < v.length; i++) v[i] = t.data().getAtIndex(F32, i);
        return v;
    }

    /** [out][in] of an HF linear weight (stored [out, in], row-major). */
    private double[][] mat(String name) {
        Tensor t = f.tensor(name);
        int cols = (int) t.ne(0), rows = (int) t.ne(1);
        double[][] m = new double[rows][cols];
        for (int r = 0; r < rows; r++) for (int i = 0; i < cols; i++) m[r][i] = t.data().getAtIndex(F32, (long) r * cols + i);
        return m;
    }

    private static double[] linear(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int r = 0; r < w.length; r++) for (int i = 0; i < x.length; i++) y[r] += w[r][i] * x[i];
        return y;
    }

    /** Gemma2RMSNorm: x / sqrt(mean(x²) + eps) · (1 + w). */
    private double[] norm(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * inv * (1 + w[i]);
        return y;
    }

    /** HF's rotate_half RoPE on one head starting at {@code off}. */
    private void rope(double[] x, int off, int pos) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            double a = pos / Math.pow(theta, 2.0 * i / headDim);
            double x0 = x[off + i], x1 = x[off + i + half];
            x[off + i] = x0 * Math.cos(a) - x1 * Math.sin(a);
            x[off + i + half] = x1 * Math.cos(a) + x0 * Math.sin(a);
        }
    }

    private static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private double[] hook(String name, int t, int n, double[] x) {
        if (name.equals(steerAt)) for (int i = 0; i < x.length; i++) x[i] += steerVector[i];
        acts.computeIfAbsent(name, k -> new double[n][])[t] = x.clone();
        return x;
    }

    /** Logits [position][vocab]. */
    double[][] forward(int[] tokens) {
        acts.clear();
        int n = tokens.length;
        double[][] emb = mat("model.embed_tokens.weight");
        double[][] h = new double[n][];
        for (int t = 0; t < n; t++) {
            h[t] = emb[tokens[t]].clone();
            for (int i = 0; i < dim; i++) h[t][i] *= Math.sqrt(dim);
            hook("hook_embed", t, n, h[t]);
        }
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".", b = "blocks." + l + ".";
            double[][] wq = mat(p + "self_attn.q_proj.weight"), wk = mat(p + "self_attn.k_proj.weight");
            double[][] wv = mat(p + "self_attn.v_proj.weight"), wo = mat(p + "self_attn.o_proj.weight");
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                hook(b + "hook_resid_pre", t, n, h[t]);
                double[] x = norm(h[t], vec(p + "input_layernorm.weight"));
                q[t] = linear(wq, x);
                k[t] = linear(wk, x);
                v[t] = linear(wv, x);
                for (int hh = 0; hh < heads; hh++) rope(q[t], hh * headDim, t);
                for (int hh = 0; hh < kvHeads; hh++) rope(k[t], hh * headDim, t);
            }
            boolean sliding = slidingWindow && l % 2 == 0;
            for (int t = 0; t < n; t++) {
                double[] att = new double[heads * headDim];
                for (int hh = 0; hh < heads; hh++) {
                    int kv = hh / (heads / kvHeads);
                    double[] s = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        if (sliding && t - j >= window) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double d = 0;
                        for (int i = 0; i < headDim; i++) d += q[t][hh * headDim + i] * k[j][kv * headDim + i];
                        d /= Math.sqrt(queryPreAttnScalar);
                        if (attnCap > 0) d = attnCap * Math.tanh(d / attnCap);
                        s[j] = d;
                        max = Math.max(max, d);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) sum += (s[j] = Math.exp(s[j] - max));
                    for (int j = 0; j <= t; j++) for (int i = 0; i < headDim; i++) att[hh * headDim + i] += s[j] / sum * v[j][kv * headDim + i];
                }
                double[] o = hook(b + "hook_attn_out", t, n, norm(linear(wo, att), vec(p + "post_attention_layernorm.weight")));
                for (int i = 0; i < dim; i++) h[t][i] += o[i];
                hook(b + "hook_resid_mid", t, n, h[t]);
            }
            double[][] wg = mat(p + "mlp.gate_proj.weight"), wu = mat(p + "mlp.up_proj.weight"), wd = mat(p + "mlp.down_proj.weight");
            for (int t = 0; t < n; t++) {
                double[] x = norm(h[t], vec(p + "pre_feedforward_layernorm.weight"));
                double[] g = linear(wg, x), u = linear(wu, x);
                for (int i = 0; i < ffn; i++) g[i] = gelu(g[i]) * u[i];
                double[] m = hook(b + "hook_mlp_out", t, n, norm(linear(wd, g), vec(p + "post_feedforward_layernorm.weight")));
                for (int i = 0; i < dim; i++) h[t][i] += m[i];
                hook(b + "hook_resid_post", t, n, h[t]);
            }
        }
        double[][] logits = new double[n][];
        for (int t = 0; t < n; t++) {
            double[] x = hook("ln_final", t, n, norm(h[t], vec("model.norm.weight")));
            logits[t] = linear(emb, x);   // tied: the unembedding is the unscaled embedding
            if (finalCap > 0) for (int i = 0; i < logits[t].length; i++) logits[t][i] = finalCap * Math.tanh(logits[t][i] / finalCap);
            hook("logits", t, n, logits[t]);
        }
        return logits;
    }

    void close() {
        f.close();
    }
}
