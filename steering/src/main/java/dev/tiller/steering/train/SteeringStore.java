package dev.tiller.steering.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.file.ModelFingerprint;
import dev.tiller.steering.file.Provenance;
import dev.tiller.steering.file.SteeringFile;
import dev.tiller.steering.file.SteeringFileException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Trained vectors in the project's steering file ({@code .steer}, see {@link SteeringFile}): the biases become one
 * {@link SteeringVector} (method {@code trained:OBJECTIVE}) applied at every position, the prefix vectors the file's
 * prefix vectors; the training configuration and metrics go into its provenance, and the model fingerprint makes sure
 * the result is only applied to the model it was trained on. {@code ./tiller generate --steer OUT.steer} applies it.
 */
public final class SteeringStore {
    private static final String CONFIG = "config_json", METRICS = "metrics_json", SITE = "site";

    public record Saved(SteeringParams params, String config, String metrics) {}

    public static void save(Path out, SteeringParams p, String configJson, String metricsJson, Model model) {
        List<SteeringVector> vectors = new ArrayList<>();
        if (p.layers.length > 0) {
            // hook_embed and blocks.0.hook_resid_pre are the same tensor: a bias at the embedding is stored at the latter
            HookSite site = p.site == HookSite.EMBED ? HookSite.RESID_PRE : p.site;
            Map<Integer, float[]> dirs = new TreeMap<>();
            for (int i = 0; i < p.layers.length; i++) dirs.put(Math.max(0, p.layers[i]), p.bias(i));
            vectors.add(SteeringVector.of("trained", site, dirs, "trained:" + objective(configJson)));
        }
        List<float[]> prefix = new ArrayList<>();
        for (int k = 0; k < p.prefixLength; k++) prefix.add(p.prefix(k));
        Map<String, String> config = new LinkedHashMap<>();
        config.put(CONFIG, configJson == null ? "" : configJson);
        config.put(METRICS, metricsJson == null ? "" : metricsJson);
        config.put(SITE, p.site == null ? "" : p.site.suffix);
        Provenance prov = Provenance.now("tiller train", model.path().toString(), "steering vectors trained by backprop", config, numbers(metricsJson));
        SteeringFile file = new SteeringFile(ModelFingerprint.of(model), vectors, prov, prefix);
        try {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            file.write(tmp);
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    /** Reads trained vectors back for {@code model}, refusing a file made for another model. */
    public static Saved load(Path in, Model model) {
        SteeringFile f = SteeringFile.read(in);
        f.checkModel(model, in.toString());
        Map<String, String> config = f.provenance().trainingConfig();
        String siteName = config.getOrDefault(SITE, "");
        HookSite site = null;
        for (HookSite s : HookSite.values()) if (s.suffix.equals(siteName)) site = s;
        if (f.vectors().size() > 1) throw new SteeringFileException(in + ": holds " + f.vectors().size() + " vectors, trained files hold one");
        SteeringVector v = f.vectors().isEmpty() ? null : f.vectors().get(0);
        if (v != null && site == null) site = v.site();
        int[] layers = v == null ? new int[0] : v.directions().keySet().stream().mapToInt(Integer::intValue).toArray();
        SteeringParams p = new SteeringParams(model.config().dim(), model.config().layers(), v == null ? null : site, layers, f.prefixVectors().size());
        if (v != null) {
            for (int i = 0; i < layers.length; i++) copy(v.directions().get(layers[i]), p.theta, i * p.dim, v.scale());
        }
        for (int k = 0; k < p.prefixLength; k++) copy(f.prefixVectors().get(k), p.theta, p.prefixOffset(k), 1f);
        return new Saved(p, config.getOrDefault(CONFIG, ""), config.getOrDefault(METRICS, ""));
    }

    private static void copy(float[] src, double[] dst, int off, float scale) {
        for (int i = 0; i < src.length; i++) dst[off + i] = scale * src[i];
    }

    private static String objective(String configJson) {
        try {
            JsonNode n = new ObjectMapper().readTree(configJson == null || configJson.isEmpty() ? "{}" : configJson);
            return n.path("objective").asText("unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** The numeric entries of the metrics JSON, for the file's metrics map. */
    private static Map<String, Double> numbers(String metricsJson) {
        Map<String, Double> m = new LinkedHashMap<>();
        try {
            JsonNode n = new ObjectMapper().readTree(metricsJson == null || metricsJson.isEmpty() ? "{}" : metricsJson);
            n.fields().forEachRemaining(e -> {
                if (e.getValue().isNumber()) m.put(e.getKey(), e.getValue().asDouble());
            });
        } catch (IOException e) {
            // metrics stay available as text in the training config
        }
        return m;
    }

    private SteeringStore() {}
}
