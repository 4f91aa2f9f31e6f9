package dev.tiller.loader.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.ModelFormatException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A Hugging Face {@code config.json}, with typed getters that name the file and key when a key is missing or has the
 * wrong type ({@code requireInt("hidden_size")} → {@code ".../config.json: missing key 'hidden_size'"}).
 * A JSON {@code null} counts as missing (HF writes {@code "rope_scaling": null}).
 */
public final class HFConfig {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final JsonNode root;
    private final String source;

    private HFConfig(JsonNode root, String source) {
        this.root = root;
        this.source = source;
    }

    public static HFConfig read(Path file) {
        try {
            dev.tiller.loader.FileLimits.checkSize(file, dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES);
            return parse(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(file + ": no such file");
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Parses JSON text; {@code source} names it in error messages. */
    public static HFConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new ModelFormatException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new ModelFormatException(source + ": not a JSON object");
        return new HFConfig(root, source);
    }

    public String source() {
        return source;
    }

    /** The raw JSON, for keys without a typed getter. */
    public JsonNode json() {
        return root;
    }

    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    private JsonNode require(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) throw new ModelFormatException(source + ": missing key '" + key + "'");
        return n;
    }

    private ModelFormatException wrongType(String key, JsonNode n, String wanted) {
        return new ModelFormatException(source + ": key '" + key + "' = " + n + " is not " + wanted);
    }

    public int requireInt(String key) {
        JsonNode n = require(key);
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw wrongType(key, n, "a 32-bit integer");
        return n.intValue();
    }

    public int getInt(String key, int fallback) {
        return has(key) ? requireInt(key) : fallback;
    }

    public long requireLong(String key) {
        JsonNode n = require(key);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw wrongType(key, n, "a 64-bit integer");
        return n.longValue();
    }

    public double requireDouble(String key) {
        JsonNode n = require(key);
        if (!n.isNumber()) throw wrongType(key, n, "a number");
        return n.doubleValue();
    }

    public double getDouble(String key, double fallback) {
        return has(key) ? requireDouble(key) : fallback;
    }

    public String requireString(String key) {
        JsonNode n = require(key);
        if (!n.isTextual()) throw wrongType(key, n, "a string");
        return n.textValue();
    }

    public String getString(String key, String fallback) {
        return has(key) ? requireString(key) : fallback;
    }

    public boolean requireBoolean(String key) {
        JsonNode n = require(key);
        if (!n.isBoolean()) throw wrongType(key, n, "a boolean");
        return n.booleanValue();
    }

    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? requireBoolean(key) : fallback;
    }

    /** A nested object (e.g. {@code rope_scaling}) as its own config, or {@code null} when absent or JSON null. */
    public HFConfig getObject(String key) {
        if (!has(key)) return null;
        JsonNode n = root.get(key);
        if (!n.isObject()) throw wrongType(key, n, "an object");
        return new HFConfig(n, source + " [" + key + "]");
    }

    /** The first entry of {@code architectures}, e.g. {@code "Qwen2ForCausalLM"}. */
    public String architecture() {
        JsonNode n = require("architectures");
        if (!n.isArray() || n.isEmpty() || !n.get(0).isTextual()) throw wrongType("architectures", n, "a non-empty array of strings");
        return n.get(0).textValue();
    }

    @Override
    public String toString() {
        return source;
    }
}
