package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.hf.HFConfig;
import dev.tiller.loader.hf.HFModelFolder;
import dev.tiller.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads a {@link ModelConfig} from a Hugging Face {@code config.json}, and the chat template from the tokenizer files. */
public final class HFModelConfig {

    public static ModelConfig read(HFModelFolder folder) {
        HFConfig cfg = folder.config();
        String type = cfg.requireString("model_type");
        Architecture arch = Architecture.fromName(type);
        if (arch == null) throw new ModelFormatException(cfg.source() + ": model_type '" + type + "' is not supported (llama, mistral, qwen2, qwen3)");
        int dim = cfg.requireInt("hidden_size");
        int layers = cfg.requireInt("num_hidden_layers");
        int heads = cfg.requireInt("num_attention_heads");
        int kvHeads = cfg.getInt("num_key_value_heads", heads);
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new ModelFormatException(cfg.source() + ": inconsistent sizes hidden_size=" + dim + " num_hidden_layers=" + layers
                    + " num_attention_heads=" + heads + " num_key_value_heads=" + kvHeads);
        }
        int headDim = cfg.has("head_dim") ? cfg.requireInt("head_dim") : dim / heads;
        int ffn = cfg.requireInt("intermediate_size");
        int ctx = cfg.getInt("max_position_embeddings", 2048);
        float eps = (float) cfg.getDouble("rms_norm_eps", 1e-6);
        double theta = cfg.getDouble("rope_theta", 10000.0);
        float[] factors = null;
        float freqScale = 1f;
        HFConfig rs = cfg.getObject("rope_scaling");
        if (rs != null) {
            String rt = rs.has("rope_type") ? rs.requireString("rope_type") : rs.requireString("type");
            switch (rt) {
                case "llama3" -> factors = RopeFreqFactors.llama3(headDim, theta, rs.requireDouble("factor"), rs.getDouble("low_freq_factor", 1.0),
                        rs.getDouble("high_freq_factor", 4.0), rs.getDouble("original_max_position_embeddings", 8192));
                case "linear" -> freqScale = (float) (1.0 / rs.requireDouble("factor"));
                case "default" -> { }
                default -> throw new ModelFormatException(cfg.source() + ": rope_scaling type '" + rt + "' is not supported (linear, llama3)");
            }
        }
        Tensor embd = folder.tensor("token_embd.weight");
        int vocab = Math.toIntExact(embd.ne(1));
        // HF keeps Q/K rows in rotate-half order, so every architecture rotates NeoX-style here.
        return new ModelConfig(arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, ctx, eps, (float) theta, headDim, true, factors, freqScale);
    }

    /** The chat template of an HF folder: {@code chat_template.jinja}, or {@code chat_template} in tokenizer_config.json. */
    public static ChatTemplate chatTemplate(Path dir, Tokenizer tok) {
        try {
            Path jinja = dir.resolve("chat_template.jinja");
            String template = null;
            Path tc = dir.resolve("tokenizer_config.json");
            if (Files.exists(tc)) dev.tiller.loader.FileLimits.checkSize(tc, dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES);
            JsonNode root = Files.exists(tc) ? new ObjectMapper().readTree(tc.toFile()) : null;
            if (Files.exists(jinja)) {
                dev.tiller.loader.FileLimits.checkSize(jinja, dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES);
                template = Files.readString(jinja);
            } else if (root != null && root.has("chat_template")) {
                JsonNode t = root.get("chat_template");
                if (t.isTextual()) {
                    template = t.textValue();
                } else if (t.isArray()) { // named templates: use "default"
                    for (JsonNode e : t) if ("default".equals(e.path("name").asText())) template = e.path("template").asText();
                }
            }
            if (template == null) return null;
            return ChatTemplate.of(template, specialText(root, "bos_token", tok, tok.bosId()), specialText(root, "eos_token", tok, tok.eosId()));
        } catch (IOException e) {
            throw new ModelFormatException(dir + ": cannot read chat template: " + e.getMessage(), e);
        }
    }

    private static String specialText(JsonNode root, String key, Tokenizer tok, int id) {
        if (root != null && root.has(key)) {
            JsonNode n = root.get(key);
            if (n.isTextual()) return n.textValue();
            if (n.isObject() && n.has("content")) return n.get("content").asText();
        }
        return id >= 0 ? tok.tokenText(id) : "";
    }

    private HFModelConfig() {}
}
