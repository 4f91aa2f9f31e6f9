package dev.tiller.steering.train;

import dev.tiller.engine.hooks.HookSite;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.kernels.quant.QuantFormat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Where trained vectors are written and read back: the one place to change when the project's {@code .steer} file
 * lands. Until then the file is a GGUF ({@code general.architecture = tiller-steering}) holding tensors
 * {@code bias.L} (one per steered layer, or {@code bias.embed}) and {@code prefix.K}, the site, and the training
 * configuration and final metrics as JSON strings ({@code tiller.train.config}, {@code tiller.train.metrics}).
 */
public final class SteeringStore {
    public static final String ARCH = "tiller-steering";

    public record Saved(SteeringParams params, String config, String metrics) {}

    public static void save(Path out, SteeringParams p, String configJson, String metricsJson) {
        GGUFWriter w = new GGUFWriter();
        w.putString("general.architecture", ARCH);
        w.putInt32("tiller.steering.dim", p.dim);
        w.putString("tiller.steering.site", p.site == null ? "" : p.site.name());
        w.putInt32Array("tiller.steering.layers", p.layers);
        w.putInt32("tiller.steering.prefix_length", p.prefixLength);
        if (configJson != null) w.putString("tiller.train.config", configJson);
        if (metricsJson != null) w.putString("tiller.train.metrics", metricsJson);
        for (int i = 0; i < p.layers.length; i++) {
            w.addTensor(p.layers[i] < 0 ? "bias.embed" : "bias." + p.layers[i], GGMLType.F32, new long[]{p.dim}, bytes(p.bias(i)));
        }
        for (int k = 0; k < p.prefixLength; k++) w.addTensor("prefix." + k, GGMLType.F32, new long[]{p.dim}, bytes(p.prefix(k)));
        try {
            Path parent = out.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
            w.write(tmp);
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
        }
    }

    public static Saved load(Path in, int modelLayers) {
        try (GGUFFile f = GGUFFile.open(in)) {
            var md = f.metadata();
            String arch = md.getString("general.architecture", "");
            if (!arch.equals(ARCH)) throw new ModelFormatException(in + ": general.architecture is '" + arch + "', not '" + ARCH + "'");
            int dim = md.getInt("tiller.steering.dim", 1, 1 << 20);
            String siteName = md.getString("tiller.steering.site", "");
            HookSite site = siteName.isEmpty() ? null : HookSite.valueOf(siteName);
            int[] layers = md.getIntArray("tiller.steering.layers");
            int prefix = md.getInt("tiller.steering.prefix_length", 0, 1 << 16);
            SteeringParams p = new SteeringParams(dim, modelLayers, site, layers, prefix);
            Map<String, Tensor> t = f.tensors();
            for (int i = 0; i < p.layers.length; i++) read(t, in, p.layers[i] < 0 ? "bias.embed" : "bias." + p.layers[i], p.theta, i * dim, dim);
            for (int k = 0; k < prefix; k++) read(t, in, "prefix." + k, p.theta, p.prefixOffset(k), dim);
            return new Saved(p, md.getString("tiller.train.config", ""), md.getString("tiller.train.metrics", ""));
        }
    }

    private static void read(Map<String, Tensor> tensors, Path in, String name, double[] dst, int off, int dim) {
        Tensor t = tensors.get(name);
        if (t == null) throw new ModelFormatException(in + ": tensor '" + name + "' is missing");
        if (t.elementCount() != dim) throw new ModelFormatException(in + ": tensor '" + name + "' has " + t.elementCount() + " elements, expected " + dim);
        float[] f = new float[dim];
        QuantFormat.of(t.type(), name).dequantize(t.data(), 0, f, 0, dim);
        for (int i = 0; i < dim; i++) dst[off + i] = f[i];
    }

    private static byte[] bytes(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    private SteeringStore() {}
}
