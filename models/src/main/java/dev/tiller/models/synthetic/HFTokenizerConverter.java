package dev.tiller.models.synthetic;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFValueType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Converts a Hugging Face byte-level BPE tokenizer folder ({@code tokenizer.json}, or {@code vocab.json} +
 * {@code merges.txt}; plus {@code tokenizer_config.json} and {@code config.json} when present) into llama.cpp's GGUF
 * tokenizer metadata, following convert_hf_to_gguf's {@code _set_vocab_gpt2}: one token per id up to the vocabulary
 * size ({@code [PADn]} for ids without a token), token types normal / control (special added tokens) /
 * user-defined (other added tokens, by their {@code special} flag) / unused, the merges as {@code "a b"} strings, special token ids and the chat
 * template.
 */
final class HFTokenizerConverter {
    static final int TOKEN_NORMAL = 1, TOKEN_CONTROL = 3, TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5;
    private static final ObjectMapper JSON = new ObjectMapper();

    record Result(Map<String, GGUFValue> metadata, int vocabSize) {}

    private record Added(String content, boolean special) {}

    private HFTokenizerConverter() {}

    static Result convert(Path dir) {
        JsonNode tokenizerJson = readIfExists(dir.resolve("tokenizer.json"));
        JsonNode tokenizerConfig = readIfExists(dir.resolve("tokenizer_config.json"));
        JsonNode config = readIfExists(dir.resolve("config.json"));

        Map<String, Integer> vocab = new HashMap<>();
        List<String> merges = new ArrayList<>();
        Map<Integer, Added> added = new LinkedHashMap<>();
        if (tokenizerJson != null) {
            JsonNode model = tokenizerJson.path("model");
            if (!"BPE".equals(model.path("type").asText())) {
                throw new ModelFormatException(dir.resolve("tokenizer.json") + ": model type '" + model.path("type").asText()
                        + "' is not supported (only byte-level BPE)");
            }
            readVocab(model.path("vocab"), vocab, dir.resolve("tokenizer.json"));
            for (JsonNode m : model.path("merges")) {
                // newer tokenizers store merges as [left, right] pairs, older ones as "left right"
                merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
            }
            for (JsonNode a : tokenizerJson.path("added_tokens")) {
                added.put(a.path("id").asInt(), new Added(a.path("content").asText(), a.path("special").asBoolean()));
            }
        } else if (Files.exists(dir.resolve("vocab.json"))) {
            readVocab(readIfExists(dir.resolve("vocab.json")), vocab, dir.resolve("vocab.json"));
            Path mergesFile = dir.resolve("merges.txt");
            if (!Files.exists(mergesFile)) throw new ModelFormatException(dir + ": vocab.json without merges.txt");
            try {
                for (String line : Files.readAllLines(mergesFile)) {
                    if (line.isEmpty() || line.startsWith("#version")) continue;
                    merges.add(line);
                }
            } catch (IOException e) {
                throw new ModelFormatException(mergesFile + ": cannot read: " + e.getMessage(), e);
            }
        } else {
            throw new ModelFormatException(dir + ": no tokenizer.json or vocab.json");
        }
        if (tokenizerConfig != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = tokenizerConfig.path("added_tokens_decoder").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                added.putIfAbsent(Integer.parseInt(e.getKey()), new Added(e.getValue().path("content").asText(), e.getValue().path("special").asBoolean()));
            }
        }

        int maxId = -1;
        for (int id : vocab.values()) maxId = Math.max(maxId, id);
        for (int id : added.keySet()) maxId = Math.max(maxId, id);
        int vocabSize = Math.max(maxId + 1, config != null ? config.path("vocab_size").asInt(0) : 0);

        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            tokens[e.getValue()] = e.getKey();
            types[e.getValue()] = TOKEN_NORMAL;
        }
        Map<String, Integer> idOf = new HashMap<>(vocab);
        for (Map.Entry<Integer, Added> e : added.entrySet()) {
            int id = e.getKey();
            String content = e.getValue().content();
            tokens[id] = content;
            // the special flag alone decides, as in the reference tiny-random-qwen2.gguf (gguf-py): <|fim_prefix|> is
            // not special in Qwen2.5's tokenizer_config and stays user-defined
            types[id] = e.getValue().special() ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
            idOf.put(content, id);
        }
        for (int i = 0; i < vocabSize; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + i + "]";
                types[i] = TOKEN_UNUSED;
            }
        }

        Map<String, GGUFValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", GGUFValue.string("gpt2"));
        m.put("tokenizer.ggml.pre", GGUFValue.string(preTokenizer(tokenizerJson, tokenizerConfig)));
        m.put("tokenizer.ggml.tokens", GGUFValue.array(GGUFValueType.STRING, tokens));
        m.put("tokenizer.ggml.token_type", GGUFValue.array(GGUFValueType.INT32, types));
        m.put("tokenizer.ggml.merges", GGUFValue.array(GGUFValueType.STRING, merges.toArray(String[]::new)));
        specialId(m, "bos", tokenizerConfig, config, idOf);
        specialId(m, "eos", tokenizerConfig, config, idOf);
        specialId(m, "unk", tokenizerConfig, config, idOf);
        specialId(m, "pad", tokenizerConfig, config, idOf);
        if (tokenizerConfig != null) {
            if (tokenizerConfig.path("add_bos_token").isBoolean()) {
                m.put("tokenizer.ggml.add_bos_token", GGUFValue.of(GGUFValueType.BOOL, tokenizerConfig.get("add_bos_token").booleanValue()));
            }
            if (tokenizerConfig.path("add_eos_token").isBoolean()) {
                m.put("tokenizer.ggml.add_eos_token", GGUFValue.of(GGUFValueType.BOOL, tokenizerConfig.get("add_eos_token").booleanValue()));
            }
            String template = chatTemplate(tokenizerConfig.get("chat_template"));
            if (template != null) m.put("tokenizer.chat_template", GGUFValue.string(template));
        }
        return new Result(m, vocabSize);
    }

    /**
     * llama.cpp identifies pre-tokenizers by the hash of their output; we recognise the few we ship by their
     * definition instead: Qwen2's split regex (single digits, contraction group) and SmolLM's individual-digits
     * + byte-level pipeline.
     */
    static String preTokenizer(JsonNode tokenizerJson, JsonNode tokenizerConfig) {
        if (tokenizerConfig != null && "Qwen2Tokenizer".equals(tokenizerConfig.path("tokenizer_class").asText())) return "qwen2";
        if (tokenizerJson == null) return "default";
        String pre = tokenizerJson.path("pre_tokenizer").toString();
        if (pre.contains("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}|")) return "qwen2";
        if (pre.contains("\"individual_digits\":true") && pre.contains("\"ByteLevel\"")) return "smollm";
        return "default";
    }

    private static void specialId(Map<String, GGUFValue> m, String kind, JsonNode tokenizerConfig, JsonNode config, Map<String, Integer> idOf) {
        String ggufKey = switch (kind) {
            case "bos" -> "tokenizer.ggml.bos_token_id";
            case "eos" -> "tokenizer.ggml.eos_token_id";
            case "unk" -> "tokenizer.ggml.unknown_token_id";
            default -> "tokenizer.ggml.padding_token_id";
        };
        Integer id = null;
        if (tokenizerConfig != null) {
            JsonNode t = tokenizerConfig.get(kind + "_token");
            String content = t == null || t.isNull() ? null : t.isObject() ? t.path("content").asText(null) : t.asText(null);
            if (content != null) id = idOf.get(content);
        }
        if (id == null && config != null && config.path(kind + "_token_id").isIntegralNumber()) {
            id = config.get(kind + "_token_id").intValue();
        }
        if (id != null) m.put(ggufKey, GGUFValue.uint32(id));
    }

    private static String chatTemplate(JsonNode t) {
        if (t == null || t.isNull()) return null;
        if (t.isTextual()) return t.textValue();
        if (t.isArray()) { // [{"name": "default", "template": ...}, ...]
            for (JsonNode e : t) if ("default".equals(e.path("name").asText())) return e.path("template").asText();
        }
        return null;
    }

    private static void readVocab(JsonNode node, Map<String, Integer> vocab, Path file) {
        if (node == null || !node.isObject()) throw new ModelFormatException(file + ": vocabulary is not a JSON object");
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int id = e.getValue().asInt(-1);
            if (id < 0 || id > 10_000_000) throw new ModelFormatException(file + ": token '" + e.getKey() + "' has bad id " + e.getValue());
            vocab.put(e.getKey(), id);
        }
    }

    private static JsonNode readIfExists(Path p) {
        if (!Files.exists(p)) return null;
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(p + ": cannot parse JSON: " + e.getMessage(), e);
        }
    }
}
