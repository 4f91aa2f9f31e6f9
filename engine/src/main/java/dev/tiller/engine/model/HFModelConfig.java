package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.hf.HFConfig;
import dev.tiller.loader.hf.HFModelFolder;
import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.arch.RopeFrequencies;
import dev.tiller.models.arch.Weight;
import dev.tiller.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.tiller.models.arch.ConfigKey.*;

/** Reads a {@link ModelConfig} from a Hugging Face {@code config.json}, and the chat template from the tokenizer files. */
public final class HFModelConfig {

    /** The family a config.json names by {@code model_type}; an error naming the file and the value when unknown. */
    public static Architecture architecture(HFConfig cfg) {
        String type = cfg.requireString("model_type");
        Architecture arch = Architectures.byHfModelType(type);
        if (arch == null) throw new ModelFormatException(cfg.source() + ": model_type '" + type + "' is not supported (" + Architectures.supported() + ")");
        return arch;
    }

    /** The config of a folder opened with {@link #architecture}'s tensor names. */
    public static ModelConfig read(HFModelFolder folder) {
        HFConfig cfg = folder.config();
        Architecture arch = architecture(cfg);
        // gemma2's config names the MLP's function under the newer key; the description fixes it, so say when they differ
        String actKey = cfg.has("hidden_activation") ? "hidden_activation" : "hidden_act";
        if (cfg.has(actKey) && !arch.activation().isCalled(cfg.requireString(actKey))) {
            throw new ModelFormatException(cfg.source() + ": " + actKey + " '" + cfg.requireString(actKey) + "' is not supported for " + arch.name()
                    + " (" + arch.activation().hfName + ")");
        }
        int dim = cfg.requireInt(EMBEDDING_LENGTH.hf);
        int layers = cfg.requireInt(BLOCK_COUNT.hf);
        int heads = cfg.requireInt(HEAD_COUNT.hf);
        int kvHeads = cfg.getInt(HEAD_COUNT_KV.hf, heads);
        if (dim <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0) {
            throw new ModelFormatException(cfg.source() + ": inconsistent sizes " + EMBEDDING_LENGTH.hf + "=" + dim + " " + BLOCK_COUNT.hf + "=" + layers
                    + " " + HEAD_COUNT.hf + "=" + heads + " " + HEAD_COUNT_KV.hf + "=" + kvHeads);
        }
        int headDim = cfg.has(KEY_LENGTH.hf) ? cfg.requireInt(KEY_LENGTH.hf) : dim / heads;
        int ffn = cfg.requireInt(FEED_FORWARD_LENGTH.hf);
        int ctx = cfg.getInt(CONTEXT_LENGTH.hf, 2048);
        float eps = (float) cfg.getDouble(RMS_EPS.hf, 1e-6);
        double theta = cfg.getDouble(ROPE_FREQ_BASE.hf, 10000.0);
        float[] factors = null;
        float freqScale = 1f;
        HFConfig rs = cfg.getObject(ROPE_SCALING.hf);
        if (rs != null) {
            String rt = rs.has("rope_type") ? rs.requireString("rope_type") : rs.requireString("type");
            switch (rt) {
                case "llama3" -> factors = RopeFrequencies.llama3Factors(headDim, theta, rs.requireDouble("factor"), rs.getDouble("low_freq_factor", 1.0),
                        rs.getDouble("high_freq_factor", 4.0), rs.getDouble("original_max_position_embeddings", 8192));
                case "linear" -> freqScale = (float) (1.0 / rs.requireDouble("factor"));
                case "default" -> { }
                default -> throw new ModelFormatException(cfg.source() + ": rope_scaling type '" + rt + "' is not supported (linear, llama3)");
            }
        }
        Tensor embd = folder.tensor(Weight.TOKEN_EMBD.ggufName(0));
        int vocab = Math.toIntExact(embd.ne(1));
        int window = arch.reads(SLIDING_WINDOW) ? cfg.getInt(SLIDING_WINDOW.hf, 0) : 0;
        // transformers' Gemma2Config defaults: caps 50 and 30 when the key is absent, none when it is null
        float attnCap = arch.reads(ATTN_LOGIT_SOFTCAPPING) ? cap(cfg, ATTN_LOGIT_SOFTCAPPING.hf, 50.0) : 0f;
        float finalCap = arch.reads(FINAL_LOGIT_SOFTCAPPING) ? cap(cfg, FINAL_LOGIT_SOFTCAPPING.hf, 30.0) : 0f;
        double scalar = arch.reads(QUERY_PRE_ATTN_SCALAR) ? cfg.getDouble(QUERY_PRE_ATTN_SCALAR.hf, headDim) : headDim;
        if (window < 0 || !(scalar > 0)) {
            throw new ModelFormatException(cfg.source() + ": " + SLIDING_WINDOW.hf + "=" + window + " or " + QUERY_PRE_ATTN_SCALAR.hf + "=" + scalar + " is out of range");
        }
        // HF keeps Q/K rows in rotate-half order, so every architecture rotates NeoX-style here.
        return new ModelConfig(arch, dim, layers, heads, kvHeads, headDim, ffn, vocab, ctx, eps, (float) theta, headDim, true, factors, freqScale,
                (float) (1.0 / Math.sqrt(scalar)), attnCap, finalCap, window, arch.hfNormOffset());
    }

    private static float cap(HFConfig cfg, String key, double absent) {
        if (!cfg.json().has(key)) return (float) absent;
        if (cfg.json().get(key).isNull()) return 0f;
        double v = cfg.requireDouble(key);
        if (!(v > 0) || Double.isInfinite(v)) throw new ModelFormatException(cfg.source() + ": " + key + " must be a positive number or null, got " + v);
        return (float) v;
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
