package dev.tiller.steering.controlvector;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;

import dev.tiller.loader.gguf.GGUFWriter;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads llama.cpp's control-vector GGUF: {@code general.architecture = controlvector},
 * {@code controlvector.model_hint}, {@code controlvector.layer_count}, and F32 tensors {@code direction.N}; and
 * writes it the way llama.cpp's cvector-generator does (so that a file read and written again holds the same bytes
 * for every direction).
 */
public final class ControlVectorFile {

    public static ControlVector read(Path path) {
        try (GGUFFile f = GGUFFile.open(path)) {
            String arch = f.metadata().getString("general.architecture", "");
            if (!arch.equals("controlvector")) {
                throw new ModelFormatException(path + ": general.architecture is '" + arch + "', not 'controlvector'");
            }
            String hint = f.metadata().getString("controlvector.model_hint", "");
            Map<Integer, float[]> dirs = new HashMap<>();
            int width = -1;
            for (Tensor t : f.tensors().values()) {
                if (!t.name().startsWith("direction.")) {
                    throw new ModelFormatException(path + ": unexpected tensor '" + t.name() + "' (a control vector holds direction.N tensors)");
                }
                int layer;
                try {
                    layer = Integer.parseInt(t.name().substring("direction.".length()));
                } catch (NumberFormatException e) {
                    throw new ModelFormatException(path + ": tensor '" + t.name() + "' does not name a layer");
                }
                if (layer <= 0) {
                    throw new ModelFormatException(path + ": tensor '" + t.name() + "': layer indices start at 1 (llama.cpp never steers block 0)");
                }
                if (t.type() != GGMLType.F32 && t.type() != GGMLType.F16) {
                    throw new ModelFormatException(path + ": tensor '" + t.name() + "' has type " + t.type() + ", expected F32");
                }
                if (t.dims() != 1) throw new ModelFormatException(path + ": tensor '" + t.name() + "' has shape " + t.shapeString() + ", expected [n_embd]");
                int n = Math.toIntExact(t.ne(0));
                if (width >= 0 && n != width) {
                    throw new ModelFormatException(path + ": tensor '" + t.name() + "' has " + n + " elements, others have " + width);
                }
                width = n;
                float[] d = new float[n];
                QuantFormat.of(t.type(), t.name()).dequantize(t.data(), 0, d, 0, n);
                dirs.put(layer, d);
            }
            if (dirs.isEmpty()) throw new ModelFormatException(path + ": control vector has no direction.N tensors");
            if (f.metadata().has("controlvector.layer_count")) {
                long count = f.metadata().getLong("controlvector.layer_count");
                int last = java.util.Collections.max(dirs.keySet());
                if (last > count) {
                    throw new ModelFormatException(path + ": tensor 'direction." + last + "' is past controlvector.layer_count = " + count);
                }
            }
            return new ControlVector(hint, width, dirs);
        }
    }

    /**
     * Writes llama.cpp's layout: {@code general.architecture = controlvector}, {@code controlvector.model_hint},
     * {@code controlvector.layer_count} (the highest block index, which is n_layer − 1 for a full vector, as
     * cvector-generator writes) and one F32 {@code direction.N} per block, N ≥ 1.
     */
    public static void write(ControlVector cv, Path path) {
        GGUFWriter w = new GGUFWriter();
        w.putString("general.architecture", "controlvector");
        w.putString("controlvector.model_hint", cv.modelHint() == null ? "" : cv.modelHint());
        int last = java.util.Collections.max(cv.directions().keySet());
        w.putInt32("controlvector.layer_count", last);
        for (var e : cv.directions().entrySet()) {
            if (e.getKey() <= 0) {
                throw new IllegalArgumentException(path + ": llama.cpp control vectors cannot steer block " + e.getKey()
                        + " (direction.0 is never read); drop that layer or use a .steer file");
            }
            float[] d = e.getValue();
            ByteBuffer b = ByteBuffer.allocate(d.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : d) b.putFloat(v);
            w.addTensor("direction." + e.getKey(), GGMLType.F32, new long[]{d.length}, b.array());
        }
        w.write(path);
    }

    private ControlVectorFile() {}
}
