package dev.tiller.models.synthetic;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFValueType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Where a synthetic model gets its tokenizer: a GGUF file (its {@code tokenizer.*} metadata is copied) or a Hugging
 * Face tokenizer folder (converted to llama.cpp's {@code gpt2} BPE metadata by {@link HFTokenizerConverter}; its files
 * are copied into HF outputs).
 */
public final class TokenizerSource {
    /** Files of a model folder that are not tokenizer files and so are never copied from a tokenizer folder. */
    private static final List<String> NOT_TOKENIZER = List.of("config.json", "generation_config.json", "model.safetensors",
            "model.safetensors.index.json");

    private final Path path;
    private final Map<String, GGUFValue> metadata;
    private final int vocabSize;
    private final Integer bos;
    private final Integer eos;

    private TokenizerSource(Path path, Map<String, GGUFValue> metadata, int vocabSize) {
        this.path = path;
        this.metadata = metadata;
        this.vocabSize = vocabSize;
        this.bos = tokenId(metadata, "tokenizer.ggml.bos_token_id");
        this.eos = tokenId(metadata, "tokenizer.ggml.eos_token_id");
    }

    public static TokenizerSource of(Path path) {
        if (Files.isDirectory(path)) {
            HFTokenizerConverter.Result r = HFTokenizerConverter.convert(path);
            return new TokenizerSource(path, r.metadata(), r.vocabSize());
        }
        try (GGUFFile f = GGUFFile.open(path)) {
            Map<String, GGUFValue> m = new LinkedHashMap<>();
            f.metadata().asMap().forEach((k, v) -> {
                if (k.startsWith("tokenizer.")) m.put(k, v);
            });
            if (!m.containsKey("tokenizer.ggml.tokens")) throw new ModelFormatException(path + ": no tokenizer.ggml.tokens, not a tokenizer source");
            return new TokenizerSource(path, m, f.metadata().getStringArray("tokenizer.ggml.tokens").length);
        }
    }

    /**
     * The tokenizer a model gets when none is named: byte-level BPE over the 256 bytes (GPT-2's byte-to-character
     * mapping, no merges), so every text encodes, one token per byte, and every id decodes (a model of fewer than 256
     * ids gets the first byte values). {@code bos} and {@code eos}
     * are the model shape's ids; ids past 255 are padded as control tokens by {@link #ggufMetadata}.
     */
    public static TokenizerSource byteLevel(int bos, int eos, int modelVocab) {
        int n = Math.min(256, modelVocab); // a model of fewer than 256 ids gets the first byte values only
        String[] tokens = new String[n];
        int[] types = new int[n];
        for (int b = 0; b < n; b++) {
            tokens[b] = String.valueOf(dev.tiller.tokenizer.ByteUnicode.byteToChar(b));
            types[b] = HFTokenizerConverter.TOKEN_NORMAL;
        }
        Map<String, GGUFValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", GGUFValue.string("gpt2"));
        m.put("tokenizer.ggml.pre", GGUFValue.string("default"));
        m.put("tokenizer.ggml.tokens", GGUFValue.array(GGUFValueType.STRING, tokens));
        m.put("tokenizer.ggml.token_type", GGUFValue.array(GGUFValueType.INT32, types));
        m.put("tokenizer.ggml.merges", GGUFValue.array(GGUFValueType.STRING, new String[0]));
        m.put("tokenizer.ggml.bos_token_id", GGUFValue.uint32(bos));
        m.put("tokenizer.ggml.eos_token_id", GGUFValue.uint32(eos));
        return new TokenizerSource(Path.of("(built-in byte-level tokenizer)"), m, n);
    }

    private static Integer tokenId(Map<String, GGUFValue> m, String key) {
        GGUFValue v = m.get(key);
        if (v == null || !v.isInteger()) return null;
        long id = v.asLong();
        return id >= 0 && id < Integer.MAX_VALUE ? (int) id : null;
    }

    public Path path() {
        return path;
    }

    /** The number of token ids the tokenizer defines (HF folders: config.json's vocab_size when present). */
    public int vocabSize() {
        return vocabSize;
    }

    public Integer bosTokenId() {
        return bos;
    }

    public Integer eosTokenId() {
        return eos;
    }

    /**
     * The tokenizer metadata for a model of {@code modelVocab} rows. A tokenizer with fewer tokens is padded with
     * unused {@code [PADn]} tokens as llama.cpp's converter does; one with more cannot serve the model.
     */
    public Map<String, GGUFValue> ggufMetadata(int modelVocab) {
        String[] tokens = (String[]) metadata.get("tokenizer.ggml.tokens").value();
        if (tokens.length > modelVocab) {
            throw new IllegalArgumentException(path + ": tokenizer has " + tokens.length + " tokens, more than the model's vocabulary of " + modelVocab);
        }
        if (tokens.length == modelVocab) return metadata;
        Map<String, GGUFValue> m = new LinkedHashMap<>(metadata);
        String[] padded = Arrays.copyOf(tokens, modelVocab);
        for (int i = tokens.length; i < modelVocab; i++) padded[i] = "[PAD" + i + "]";
        m.put("tokenizer.ggml.tokens", GGUFValue.array(GGUFValueType.STRING, padded));
        GGUFValue types = metadata.get("tokenizer.ggml.token_type");
        if (types != null) {
            int[] t = Arrays.copyOf((int[]) types.value(), modelVocab);
            Arrays.fill(t, tokens.length, modelVocab, HFTokenizerConverter.TOKEN_UNUSED);
            m.put("tokenizer.ggml.token_type", GGUFValue.array(types.elementType(), t));
        }
        GGUFValue scores = metadata.get("tokenizer.ggml.scores");
        if (scores != null) {
            m.put("tokenizer.ggml.scores", GGUFValue.array(GGUFValueType.FLOAT32, Arrays.copyOf((float[]) scores.value(), modelVocab)));
        }
        // a special token id in the padding (the built-in byte tokenizer with a real model's bos/eos) is a control token
        if (m.get("tokenizer.ggml.token_type") != null) {
            int[] t = ((int[]) m.get("tokenizer.ggml.token_type").value()).clone();
            for (Integer id : new Integer[]{bos, eos}) if (id != null && id >= tokens.length && id < modelVocab) t[id] = HFTokenizerConverter.TOKEN_CONTROL;
            m.put("tokenizer.ggml.token_type", GGUFValue.array(m.get("tokenizer.ggml.token_type").elementType(), t));
        }
        return m;
    }

    /** Tokenizer files to copy into an HF model folder (none for a GGUF source). */
    public List<Path> hfFiles() {
        if (!Files.isDirectory(path)) return List.of();
        try (Stream<Path> s = Files.list(path)) {
            List<Path> r = new ArrayList<>();
            s.filter(Files::isRegularFile)
                    .filter(p -> !NOT_TOKENIZER.contains(p.getFileName().toString()))
                    .filter(p -> !p.getFileName().toString().endsWith(".safetensors") && !p.getFileName().toString().endsWith(".gguf"))
                    .sorted()
                    .forEach(r::add);
            return r;
        } catch (IOException e) {
            throw new UncheckedIOException(path + ": cannot list: " + e.getMessage(), e);
        }
    }
}
