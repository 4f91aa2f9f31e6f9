package dev.tiller.loader.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.TensorSource;
import dev.tiller.loader.safetensors.SafetensorsFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A Hugging Face model folder: {@code config.json} plus either {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}. Tensors are memory-mapped, never copied, with ggml-order shapes, under the names
 * a caller-supplied mapping gives them: the engine passes its architecture's HF-to-GGUF names (the loader knows no
 * architecture), {@link #open(Path)} keeps the names as stored.
 *
 * <p><b>RoPE layout.</b> llama.cpp's converter permutes the rows of the Q and K projections of llama models, because
 * HF llama rotates halves of each head (NeoX style: pairs {@code (i, i + d/2)}) while GGUF llama rotates adjacent
 * pairs {@code (2i, 2i + 1)}. This reader does <em>not</em> permute: Q/K weights keep HF's row order, so an engine
 * running llama weights from an HF folder must use NeoX-style RoPE (as it does for qwen2/qwen3 anyway).
 *
 * <p>With tied embeddings ({@code tie_word_embeddings}) there is no {@code lm_head.weight}, hence no
 * {@code output.weight}; the engine uses {@code token_embd.weight}, as with GGUF files.
 */
public final class HFModelFolder implements TensorSource {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    public static final String CONFIG_FILE = "config.json";

    private final Path dir;
    private final List<SafetensorsFile> files;
    private final Map<String, Tensor> tensors;
    private final HFConfig config;

    private HFModelFolder(Path dir, List<SafetensorsFile> files, Map<String, Tensor> tensors, HFConfig config) {
        this.dir = dir;
        this.files = files;
        this.tensors = tensors;
        this.config = config;
    }

    /** Opens the folder with its tensors under their stored HF names. */
    public static HFModelFolder open(Path dir) {
        return open(dir, UnaryOperator.identity());
    }

    /**
     * Opens the folder with each tensor under {@code rename.apply(hfName)}; two tensors renamed alike are an error
     * naming both.
     */
    public static HFModelFolder open(Path dir, UnaryOperator<String> rename) {
        if (!Files.isDirectory(dir)) throw new ModelFormatException(dir + ": not a directory");
        Path configFile = dir.resolve(CONFIG_FILE);
        HFConfig config = Files.exists(configFile) ? HFConfig.read(configFile) : null;
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Path index = dir.resolve(INDEX_FILE);
            if (Files.exists(index)) {
                Map<String, String> weightMap = readWeightMap(index);
                Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
                for (String shard : new java.util.LinkedHashSet<>(weightMap.values())) {
                    Path p = dir.resolve(shard).normalize();
                    if (!p.startsWith(dir.normalize())) throw new ModelFormatException(index + ": shard '" + shard + "' lies outside the folder");
                    SafetensorsFile f = SafetensorsFile.open(p);
                    opened.add(f);
                    shards.put(shard, f);
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    SafetensorsFile f = shards.get(e.getValue());
                    Tensor t = f.tensors().get(e.getKey());
                    if (t == null) {
                        throw new ModelFormatException(index + ": weight_map puts '" + e.getKey() + "' in " + e.getValue() + ", which does not hold it");
                    }
                    add(tensors, t, f.path(), rename);
                }
            } else if (Files.exists(dir.resolve(SINGLE_FILE))) {
                SafetensorsFile f = SafetensorsFile.open(dir.resolve(SINGLE_FILE));
                opened.add(f);
                for (Tensor t : f.tensors().values()) add(tensors, t, f.path(), rename);
            } else {
                throw new ModelFormatException(dir + ": no " + SINGLE_FILE + " or " + INDEX_FILE);
            }
            return new HFModelFolder(dir, List.copyOf(opened), Collections.unmodifiableMap(tensors), config);
        } catch (RuntimeException e) {
            opened.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static void add(Map<String, Tensor> tensors, Tensor t, Path file, UnaryOperator<String> rename) {
        String gguf = rename.apply(t.name());
        if (tensors.containsKey(gguf)) {
            throw new ModelFormatException(file + ": tensor '" + t.name() + "' maps to name '" + gguf + "', which another tensor already has");
        }
        tensors.put(gguf, new Tensor(gguf, t.type(), t.ne(), t.data(), t.source()));
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        dev.tiller.loader.FileLimits.checkSize(index, dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES);
        try {
            root = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).readTree(Files.readString(index));
        } catch (IOException e) {
            throw new ModelFormatException(index + ": cannot read index: " + e.getMessage(), e);
        }
        JsonNode wm = root == null ? null : root.get("weight_map");
        if (wm == null || !wm.isObject()) throw new ModelFormatException(index + ": missing 'weight_map' object");
        Map<String, String> r = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) throw new ModelFormatException(index + ": weight_map entry '" + e.getKey() + "' is not a file name");
            r.put(e.getKey(), e.getValue().textValue());
        }
        return r;
    }

    /** The folder's config.json. */
    public HFConfig config() {
        if (config == null) throw new ModelFormatException(dir.resolve(CONFIG_FILE) + ": no such file");
        return config;
    }

    public boolean hasConfig() {
        return config != null;
    }

    public Path dir() {
        return dir;
    }

    @Override
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    @Override
    public String describe() {
        return dir.toString();
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
