package dev.tiller.loader.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFValueType;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.loader.safetensors.SafetensorsWriter;
import dev.tiller.testsupport.Shared;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seed inputs of the fuzz targets: small synthetic files made here, and small files derived at run time from the real
 * models and tokenizers in {@code ../shared} (read from the {@code tiller.shared} property; nothing is copied into the
 * repository). Derived seeds keep a real file's structure (its metadata, its tokenizer's pre-tokenizer, added tokens
 * and special ids) but only a few hundred vocabulary entries, so each execution takes milliseconds.
 */
public final class Seeds {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Separates the files of a multi-file input: {@code name NUL content} parts joined by this. */
    public static final byte[] FILE_SEPARATOR = "\n\0\0\0\n".getBytes(StandardCharsets.ISO_8859_1);

    private Seeds() {
    }

    public static Path shared() {
        return Shared.DIR;
    }

    private static Path tmpDir() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] write(GGUFWriter w) {
        try {
            Path p = Files.createTempFile(tmpDir(), "seed", ".gguf");
            try {
                w.write(p);
                return Files.readAllBytes(p);
            } finally {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ---------------------------------------------------------------- GGUF

    /** Small GGUF files: every value type, nested arrays, several tensor types, and tiny SPM / BPE / WPM vocabularies. */
    public static List<byte[]> ggufSynthetic() {
        List<byte[]> out = new ArrayList<>();
        GGUFWriter all = new GGUFWriter()
                .putString("general.architecture", "llama").putUInt8("u8", (byte) 1).putInt8("i8", (byte) -1)
                .putUInt16("u16", (short) 2).putInt16("i16", (short) -2).putUInt32("u32", 3).putInt32("i32", -3)
                .putUInt64("u64", 4).putInt64("i64", -4).putFloat32("f32", 1.5f).putFloat64("f64", 2.5).putBool("b", true)
                .putStringArray("sa", new String[]{"x", "", "\u00e9"}).putInt32Array("ia", new int[]{1, 2, 3})
                .putFloat32Array("fa", new float[]{0.5f})
                .put("nested", GGUFValue.array(GGUFValueType.ARRAY, new GGUFValue[]{
                        GGUFValue.array(GGUFValueType.INT32, new int[]{7}), GGUFValue.array(GGUFValueType.STRING, new String[]{"y"})}))
                .putUInt32("general.alignment", 64);
        all.addTensor("f32", GGMLType.F32, new long[]{4, 2}, new byte[32]);
        all.addTensor("f16", GGMLType.F16, new long[]{8}, new byte[16]);
        all.addTensor("q8", GGMLType.Q8_0, new long[]{32, 1}, new byte[34]);
        all.addTensor("q4k", GGMLType.Q4_K, new long[]{256}, new byte[144]);
        all.addTensor("empty", GGMLType.F32, new long[]{0}, new byte[0]);
        out.add(write(all));
        out.add(write(new GGUFWriter())); // header only
        out.add(write(spmVocab()));
        out.add(write(bpeVocab()));
        out.add(write(new GGUFWriter().putString("tokenizer.ggml.model", "bert")
                .putStringArray("tokenizer.ggml.tokens", new String[]{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "##lo", "world", "he"})
                .putUInt32("tokenizer.ggml.bos_token_id", 2).putUInt32("tokenizer.ggml.seperator_token_id", 3)
                .putUInt32("tokenizer.ggml.unknown_token_id", 1).putUInt32("tokenizer.ggml.padding_token_id", 0)));
        return out;
    }

    private static GGUFWriter spmVocab() {
        String[] tokens = {"<unk>", "<s>", "</s>", "<0x0A>", "\u2581", "\u2581h", "e", "l", "o", "\u2581he", "ll", "\u2581hello", "<|im_end|>"};
        float[] scores = new float[tokens.length];
        int[] types = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            scores[i] = -i;
            types[i] = i < 3 ? 3 : i == 3 ? 6 : 1;
        }
        types[tokens.length - 1] = 3;
        return new GGUFWriter().putString("general.architecture", "llama").putString("tokenizer.ggml.model", "llama")
                .putStringArray("tokenizer.ggml.tokens", tokens).putFloat32Array("tokenizer.ggml.scores", scores)
                .putInt32Array("tokenizer.ggml.token_type", types).putUInt32("tokenizer.ggml.bos_token_id", 1)
                .putUInt32("tokenizer.ggml.eos_token_id", 2).putBool("tokenizer.ggml.add_bos_token", true)
                .putString("tokenizer.chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}");
    }

    private static GGUFWriter bpeVocab() {
        String[] tokens = {"h", "e", "l", "o", "\u0120", "he", "ll", "hell", "hello", "\u0120w", "<|endoftext|>", "<|im_start|>"};
        int[] types = new int[tokens.length];
        java.util.Arrays.fill(types, 1);
        types[10] = 3;
        types[11] = 3;
        return new GGUFWriter().putString("tokenizer.ggml.model", "gpt2").putString("tokenizer.ggml.pre", "qwen2")
                .putStringArray("tokenizer.ggml.tokens", tokens).putInt32Array("tokenizer.ggml.token_type", types)
                .putStringArray("tokenizer.ggml.merges", new String[]{"h e", "l l", "he ll", "hell o", "\u0120 w"})
                .putUInt32("tokenizer.ggml.eos_token_id", 10).putUInt32("tokenizer.ggml.bos_token_id", 10);
    }

    /**
     * Shared GGUF files cut down to a fuzzable size: their metadata (vocabulary kept to {@code maxTokens} entries,
     * with scores, types and merges to match) and at most a few small tensors.
     */
    public static List<byte[]> ggufShared(int maxTokens) {
        List<byte[]> out = new ArrayList<>();
        Path shared = shared();
        List<Path> files = new ArrayList<>(List.of(shared.resolve("models/stories260K.gguf"), shared.resolve("models/tiny-random-qwen2.gguf"),
                shared.resolve("models/llama-2-tiny-random.gguf"), shared.resolve("models/arith-mini.gguf"),
                shared.resolve("tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf"),
                shared.resolve("tokenizers/llama.cpp-vocab/ggml-vocab-gpt-2.gguf"),
                shared.resolve("tokenizers/llama.cpp-vocab/ggml-vocab-phi-3.gguf")));
        for (Path p : files) {
            if (Files.exists(p)) out.add(shrink(p, maxTokens));
        }
        for (String cv : new String[]{"happy_mean.gguf", "happy_pca.gguf"}) {
            Path p = shared.resolve("reference/stories260K").resolve(cv);
            if (Files.exists(p)) out.add(read(p));
        }
        return out;
    }

    static byte[] shrink(Path p, int maxTokens) {
        try (GGUFFile f = GGUFFile.open(p)) {
            GGUFWriter w = new GGUFWriter();
            int n = -1;
            for (Map.Entry<String, GGUFValue> e : f.metadata().asMap().entrySet()) {
                GGUFValue v = e.getValue();
                if (v.type() == GGUFValueType.ARRAY && e.getKey().startsWith("tokenizer.ggml.")) {
                    int len = java.lang.reflect.Array.getLength(v.value());
                    int keep = Math.min(len, maxTokens);
                    Object arr = java.lang.reflect.Array.newInstance(v.value().getClass().getComponentType(), keep);
                    System.arraycopy(v.value(), 0, arr, 0, keep);
                    v = GGUFValue.array(v.elementType(), arr);
                    if (e.getKey().equals("tokenizer.ggml.tokens")) n = keep;
                }
                w.put(e.getKey(), v);
            }
            int tensors = 0;
            for (Tensor t : f.tensors().values()) {
                if (t.data().byteSize() <= 4096 && tensors++ < 4) w.addTensor(t);
            }
            return write(w);
        }
    }

    // ---------------------------------------------------------------- safetensors

    public static List<byte[]> safetensors() {
        List<byte[]> out = new ArrayList<>();
        out.add(st("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[16,22]},\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[22,24]},"
                + "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[24,24]}}", 24));
        out.add(st("{}", 0));
        out.add(st("{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8));
        // one written by the project's own writer
        try {
            Path p = Files.createTempFile(tmpDir(), "seed", ".safetensors");
            try {
                SafetensorsWriter w = new SafetensorsWriter();
                w.add("model.layers.0.self_attn.q_proj.weight", GGMLType.F32, new long[]{2, 3}, new byte[24]);
                w.add("model.norm.weight", GGMLType.BF16, new long[]{3}, new byte[6]);
                w.write(p);
                out.add(Files.readAllBytes(p));
            } finally {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static byte[] st(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[8 + h.length + dataBytes];
        for (int i = 0; i < 8; i++) out[i] = (byte) ((long) h.length >>> (8 * i));
        System.arraycopy(h, 0, out, 8, h.length);
        for (int i = 0; i < dataBytes; i++) out[8 + h.length + i] = (byte) (i * 37);
        return out;
    }

    // ---------------------------------------------------------------- Hugging Face tokenizer folders

    /** Joins files into one fuzz input: {@code name NUL content} parts separated by {@link #FILE_SEPARATOR}. */
    public static byte[] files(Map<String, byte[]> files) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        boolean first = true;
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            if (!first) out.writeBytes(FILE_SEPARATOR);
            first = false;
            out.writeBytes(e.getKey().getBytes(StandardCharsets.UTF_8));
            out.write(0);
            out.writeBytes(e.getValue());
        }
        return out.toByteArray();
    }

    /** Splits a multi-file input back into name → content; parts without a name are dropped. */
    public static Map<String, byte[]> splitFiles(byte[] data) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        int start = 0;
        while (start <= data.length) {
            int end = indexOf(data, FILE_SEPARATOR, start);
            if (end < 0) end = data.length;
            int nul = -1;
            for (int i = start; i < end; i++) if (data[i] == 0) { nul = i; break; }
            if (nul > start) {
                out.putIfAbsent(new String(data, start, nul - start, StandardCharsets.UTF_8), java.util.Arrays.copyOfRange(data, nul + 1, end));
            }
            start = end + FILE_SEPARATOR.length;
        }
        return out;
    }

    private static int indexOf(byte[] a, byte[] pat, int from) {
        outer:
        for (int i = from; i <= a.length - pat.length; i++) {
            for (int j = 0; j < pat.length; j++) if (a[i + j] != pat[j]) continue outer;
            return i;
        }
        return -1;
    }

    private static byte[] json(JsonNode n) {
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** tokenizer.json folders: qwen3 and smollm2 cut down to {@code keep} tokens, plus synthetic ones. */
    public static List<byte[]> tokenizerJson(int keep) {
        List<byte[]> out = new ArrayList<>();
        Path t = shared().resolve("tokenizers");
        for (String name : new String[]{"qwen3", "smollm2"}) {
            Path dir = t.resolve(name);
            if (!Files.exists(dir.resolve("tokenizer.json"))) continue;
            ObjectNode tj = (ObjectNode) readJson(dir.resolve("tokenizer.json"));
            ObjectNode model = (ObjectNode) tj.get("model");
            Map<Integer, Integer> remap = new HashMap<>();
            ObjectNode vocab = JSON.createObjectNode();
            java.util.Set<String> kept = new java.util.HashSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = model.get("vocab").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().asInt() < keep) {
                    vocab.put(e.getKey(), e.getValue().asInt());
                    kept.add(e.getKey());
                }
            }
            model.set("vocab", vocab);
            ArrayNode merges = JSON.createArrayNode();
            for (JsonNode m : model.get("merges")) {
                String[] p = m.isTextual() ? m.asText().split(" ", 2) : new String[]{m.get(0).asText(), m.get(1).asText()};
                if (p.length == 2 && kept.contains(p[0]) && kept.contains(p[1]) && kept.contains(p[0] + p[1])) merges.add(m);
            }
            model.set("merges", merges);
            int next = keep;
            for (JsonNode a : tj.get("added_tokens")) {
                int old = a.get("id").asInt();
                int id = old < keep ? old : next++;
                remap.put(old, id);
                ((ObjectNode) a).put("id", id);
            }
            remapPostProcessor(tj.get("post_processor"), remap);
            Map<String, byte[]> files = new LinkedHashMap<>();
            files.put("tokenizer.json", json(tj));
            if (Files.exists(dir.resolve("tokenizer_config.json"))) files.put("tokenizer_config.json", json(remapConfig(readJson(dir.resolve("tokenizer_config.json")), remap)));
            if (Files.exists(dir.resolve("config.json"))) files.put("config.json", json(remapModelConfig(readJson(dir.resolve("config.json")), remap, next)));
            out.add(files(files));
        }
        // a SentencePiece-style (Metaspace) BPE, as Llama / Mistral HF tokenizers are
        String spm = "{\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\u2581\"},"
                + "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\u2581\"},"
                + "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],"
                + "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}},"
                + "\"added_tokens\":[{\"id\":0,\"content\":\"<unk>\",\"special\":true},{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true}],"
                + "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0x0A>\":3,"
                + "\"\u2581\":4,\"h\":5,\"e\":6,\"l\":7,\"o\":8,\"\u2581h\":9,\"ll\":10,\"\u2581he\":11,\"\u2581hell\":12},"
                + "\"merges\":[\"\u2581 h\",\"l l\",\"\u2581h e\",\"\u2581he ll\"]}}";
        out.add(files(Map.of("tokenizer.json", spm.getBytes(StandardCharsets.UTF_8),
                "tokenizer_config.json", "{\"bos_token\":\"<s>\",\"eos_token\":{\"content\":\"</s>\"},\"add_bos_token\":true}".getBytes(StandardCharsets.UTF_8))));
        return out;
    }

    /** vocab.json + merges.txt folders: qwen2.5 cut down to {@code keep} tokens. */
    public static List<byte[]> vocabMerges(int keep) {
        List<byte[]> out = new ArrayList<>();
        Path dir = shared().resolve("tokenizers/qwen2.5");
        if (Files.exists(dir.resolve("vocab.json"))) {
            JsonNode v = readJson(dir.resolve("vocab.json"));
            ObjectNode vocab = JSON.createObjectNode();
            java.util.Set<String> kept = new java.util.HashSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getValue().asInt() < keep) {
                    vocab.put(e.getKey(), e.getValue().asInt());
                    kept.add(e.getKey());
                }
            }
            StringBuilder merges = new StringBuilder("#version: 0.2\n");
            for (String line : new String(read(dir.resolve("merges.txt")), StandardCharsets.UTF_8).split("\n")) {
                String[] p = line.split(" ", 2);
                if (p.length == 2 && kept.contains(p[0]) && kept.contains(p[1]) && kept.contains(p[0] + p[1])) merges.append(line).append('\n');
            }
            Map<Integer, Integer> remap = new HashMap<>();
            for (int i = 0; i < 40; i++) remap.put(151643 + i, keep + i);
            Map<String, byte[]> files = new LinkedHashMap<>();
            files.put("vocab.json", json(vocab));
            files.put("merges.txt", merges.toString().getBytes(StandardCharsets.UTF_8));
            files.put("tokenizer_config.json", json(remapConfig(readJson(dir.resolve("tokenizer_config.json")), remap)));
            files.put("config.json", json(remapModelConfig(readJson(dir.resolve("config.json")), remap, keep + 40)));
            if (Files.exists(dir.resolve("generation_config.json"))) files.put("generation_config.json", json(remapModelConfig(readJson(dir.resolve("generation_config.json")), remap, -1)));
            out.add(files(files));
        }
        out.add(files(Map.of("vocab.json", "{\"a\":0,\"b\":1,\"ab\":2,\"<|endoftext|>\":3}".getBytes(StandardCharsets.UTF_8),
                "merges.txt", "a b\n".getBytes(StandardCharsets.UTF_8),
                "tokenizer_config.json", "{\"tokenizer_class\":\"Qwen2Tokenizer\",\"eos_token\":\"<|endoftext|>\",\"added_tokens_decoder\":{\"3\":{\"content\":\"<|endoftext|>\",\"special\":true}}}".getBytes(StandardCharsets.UTF_8))));
        return out;
    }

    private static void remapPostProcessor(JsonNode pp, Map<Integer, Integer> remap) {
        if (pp == null || !pp.isObject()) return;
        for (JsonNode p : pp.path("processors")) remapPostProcessor(p, remap);
        for (JsonNode st : pp.path("special_tokens")) {
            JsonNode ids = st.get("ids");
            if (ids instanceof ArrayNode a) {
                for (int i = 0; i < a.size(); i++) a.set(i, remap.getOrDefault(a.get(i).asInt(), a.get(i).asInt()));
            }
        }
    }

    private static JsonNode remapConfig(JsonNode tc, Map<Integer, Integer> remap) {
        ObjectNode c = tc.deepCopy();
        JsonNode dec = c.get("added_tokens_decoder");
        if (dec instanceof ObjectNode d) {
            ObjectNode nd = JSON.createObjectNode();
            for (Iterator<Map.Entry<String, JsonNode>> it = d.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id = Integer.parseInt(e.getKey());
                Integer to = remap.get(id);
                if (to != null) nd.set(String.valueOf(to), e.getValue());
            }
            c.set("added_tokens_decoder", nd);
        }
        return c;
    }

    private static JsonNode remapModelConfig(JsonNode cfg, Map<Integer, Integer> remap, int vocabSize) {
        ObjectNode c = cfg.deepCopy();
        for (String k : new String[]{"bos_token_id", "eos_token_id", "pad_token_id"}) {
            JsonNode v = c.get(k);
            if (v == null) continue;
            if (v.isArray()) {
                ArrayNode a = JSON.createArrayNode();
                for (JsonNode x : v) a.add(remap.getOrDefault(x.asInt(), x.asInt()));
                c.set(k, a);
            } else if (v.canConvertToInt()) {
                c.put(k, remap.getOrDefault(v.asInt(), v.asInt()));
            }
        }
        if (vocabSize > 0 && c.has("vocab_size")) c.put("vocab_size", vocabSize);
        return c;
    }
}
