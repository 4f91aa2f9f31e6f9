package dev.tiller.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.ModelFormatException;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Builds a tokenizer from Hugging Face files. Token types follow llama.cpp's converter: added tokens that are
 * special (or look like {@code <|...|>}) become CONTROL, other added tokens USER_DEFINED, ids with no token
 * {@code [PADn]} UNUSED up to config.json's {@code vocab_size}.
 */
final class HfTokenizerLoader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HfTokenizerLoader() {
    }

    static Tokenizer load(Path dir) {
        if (!Files.isDirectory(dir)) throw new ModelFormatException(dir + ": not a directory");
        JsonNode tokConfig = readOptional(dir.resolve("tokenizer_config.json"));
        JsonNode config = readOptional(dir.resolve("config.json"));
        JsonNode genConfig = readOptional(dir.resolve("generation_config.json"));
        Path tokenizerJson = dir.resolve("tokenizer.json");
        Builder b = new Builder();
        if (Files.exists(tokenizerJson)) {
            b.fromTokenizerJson(tokenizerJson, read(tokenizerJson));
        } else if (Files.exists(dir.resolve("vocab.json")) && Files.exists(dir.resolve("merges.txt"))) {
            b.fromVocabAndMerges(dir.resolve("vocab.json"), dir.resolve("merges.txt"), tokConfig);
        } else {
            throw new ModelFormatException(dir + ": no tokenizer.json, and no vocab.json + merges.txt");
        }
        if (tokConfig != null) b.addedTokensDecoder(dir.resolve("tokenizer_config.json"), tokConfig.get("added_tokens_decoder"));
        return b.build(dir, tokConfig, config, genConfig);
    }

    /** Accumulates vocabulary entries from whichever files are present. */
    private static final class Builder {
        final List<String> texts = new ArrayList<>();
        final List<Integer> attrs = new ArrayList<>();
        String source;
        List<String[]> merges = new ArrayList<>();
        List<String> regexes = new ArrayList<>();
        boolean ignoreMerges;
        boolean metaspace; // SentencePiece-style BPE (spaces as ▁, byte fallback)
        String unkToken;
        Integer postProcessorBos;

        void set(int id, String text, int attr) {
            while (texts.size() <= id) {
                texts.add(null);
                attrs.add(TokenAttr.UNUSED);
            }
            texts.set(id, text);
            attrs.set(id, attr);
        }

        void fromTokenizerJson(Path file, JsonNode root) {
            source = file.toString();
            JsonNode model = require(file, root, "model");
            String type = model.path("type").asText("BPE");
            if (!type.equals("BPE")) {
                throw new ModelFormatException(file + ": field 'model.type' = '" + type + "' is not supported (only BPE)");
            }
            JsonNode vocab = require(file, model, "vocab");
            if (!vocab.isObject()) throw new ModelFormatException(file + ": field 'model.vocab' is not an object");
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                set(tokenIdOf(file, "model.vocab", e.getValue()), e.getKey(), TokenAttr.NORMAL);
            }
            JsonNode mergeList = require(file, model, "merges");
            if (!mergeList.isArray()) throw new ModelFormatException(file + ": field 'model.merges' is not an array");
            merges = new ArrayList<>(mergeList.size());
            for (JsonNode m : mergeList) {
                if (m.isTextual()) {
                    String s = m.asText();
                    int space = s.indexOf(' ', 1);
                    if (space < 0) throw new ModelFormatException(file + ": merge '" + s + "' in 'model.merges' has no space");
                    merges.add(new String[] {s.substring(0, space), s.substring(space + 1)});
                } else if (m.isArray() && m.size() == 2) {
                    merges.add(new String[] {m.get(0).asText(), m.get(1).asText()});
                } else {
                    throw new ModelFormatException(file + ": entry " + m + " in 'model.merges' is neither \"a b\" nor [a, b]");
                }
            }
            ignoreMerges = model.path("ignore_merges").asBoolean(false);
            if (model.hasNonNull("unk_token")) unkToken = model.get("unk_token").asText();
            JsonNode added = root.get("added_tokens");
            if (added != null && added.isArray()) {
                for (JsonNode a : added) {
                    int id = tokenIdOf(file, "added_tokens[].id", a.get("id"));
                    String content = require(file, a, "content").asText();
                    set(id, content, addedTokenAttr(content, a.path("special").asBoolean(false)));
                }
            }
            preTokenizer(file, root.get("pre_tokenizer"));
            if (root.path("normalizer").toString().contains("\u2581")) metaspace = true;
            postProcessorBos = bosFromPostProcessor(root.get("post_processor"));
        }

        void fromVocabAndMerges(Path vocabFile, Path mergesFile, JsonNode tokConfig) {
            source = vocabFile.getParent().toString();
            JsonNode vocab = read(vocabFile);
            if (!vocab.isObject()) throw new ModelFormatException(vocabFile + ": top level is not an object of token → id");
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                set(tokenIdOf(vocabFile, e.getKey(), e.getValue()), e.getKey(), TokenAttr.NORMAL);
            }
            dev.tiller.loader.FileLimits.checkSize(mergesFile, dev.tiller.loader.FileLimits.MAX_TOKENIZER_FILE_BYTES);
            try (BufferedReader r = Files.newBufferedReader(mergesFile, StandardCharsets.UTF_8)) {
                String line;
                int lineNo = 0;
                while ((line = r.readLine()) != null) {
                    lineNo++;
                    if (line.isEmpty() || (lineNo == 1 && line.startsWith("#version"))) continue;
                    int space = line.indexOf(' ', 1);
                    if (space < 0) throw new ModelFormatException(mergesFile + ": line " + lineNo + " is not a merge 'a b'");
                    merges.add(new String[] {line.substring(0, space), line.substring(space + 1)});
                }
            } catch (IOException e) {
                throw new ModelFormatException(mergesFile + ": cannot read: " + e.getMessage(), e);
            }
            String cls = tokConfig == null ? "" : tokConfig.path("tokenizer_class").asText("");
            regexes = List.of(cls.startsWith("Qwen2") ? PreTokenizers.QWEN2 : PreTokenizers.GPT2);
        }

        void addedTokensDecoder(Path file, JsonNode decoder) {
            if (decoder == null || !decoder.isObject()) return;
            for (Iterator<Map.Entry<String, JsonNode>> it = decoder.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                int id;
                try {
                    id = Integer.parseInt(e.getKey());
                } catch (NumberFormatException ex) {
                    throw new ModelFormatException(file + ": key '" + e.getKey() + "' in 'added_tokens_decoder' is not a token id");
                }
                if (id < 0 || id >= Tokenizers.MAX_VOCAB_SIZE) {
                    throw new ModelFormatException(file + ": token id " + id + " in 'added_tokens_decoder' is outside [0, "
                            + Tokenizers.MAX_VOCAB_SIZE + ")");
                }
                String content = require(file, e.getValue(), "content").asText();
                set(id, content, addedTokenAttr(content, e.getValue().path("special").asBoolean(false)));
            }
        }

        /** Maps HF pre-tokenizers to the equivalent regex list. */
        void preTokenizer(Path file, JsonNode pre) {
            if (pre == null || pre.isNull()) return;
            String type = pre.path("type").asText();
            switch (type) {
                case "Sequence" -> {
                    for (JsonNode p : pre.path("pretokenizers")) preTokenizer(file, p);
                }
                case "Split" -> {
                    JsonNode pattern = pre.path("pattern");
                    String behavior = pre.path("behavior").asText("Isolated");
                    if (!behavior.equals("Isolated") || pre.path("invert").asBoolean(false)) {
                        throw new ModelFormatException(file + ": pre_tokenizer Split with behavior '" + behavior + "' is not supported");
                    }
                    if (pattern.has("Regex")) regexes.add(checkedRegex(file, pattern.get("Regex").asText()));
                    else if (pattern.has("String")) regexes.add(java.util.regex.Pattern.quote(pattern.get("String").asText()));
                    else throw new ModelFormatException(file + ": pre_tokenizer Split has no 'pattern.Regex' or 'pattern.String'");
                }
                case "ByteLevel" -> {
                    if (pre.path("use_regex").asBoolean(true)) regexes.add(PreTokenizers.GPT2);
                }
                case "Digits" -> regexes.add(pre.path("individual_digits").asBoolean(false) ? "\\p{N}" : "\\p{N}+");
                case "Metaspace" -> metaspace = true;
                default -> throw new ModelFormatException(file + ": pre_tokenizer type '" + type + "' is not supported");
            }
        }

        Tokenizer build(Path dir, JsonNode tokConfig, JsonNode config, JsonNode genConfig) {
            int n = texts.size();
            if (config != null && config.path("vocab_size").canConvertToInt()) {
                int vocabSize = config.path("vocab_size").asInt();
                if (vocabSize > Tokenizers.MAX_VOCAB_SIZE) {
                    throw new ModelFormatException(dir.resolve("config.json") + ": vocab_size " + vocabSize + " is over the limit of "
                            + Tokenizers.MAX_VOCAB_SIZE + " tokens");
                }
                n = Math.max(n, vocabSize);
            }
            VocabSpec s = new VocabSpec();
            s.source = dir.toString();
            s.model = metaspace ? VocabModel.SPM : VocabModel.BPE;
            s.texts = new String[n];
            s.attrs = new int[n];
            for (int i = 0; i < n; i++) {
                String t = i < texts.size() ? texts.get(i) : null;
                s.texts[i] = t != null ? t : "[PAD" + i + "]";
                s.attrs[i] = t != null ? attrs.get(i) : TokenAttr.UNUSED;
            }
            TokenLookup lookup = new TokenLookup(n);
            for (int i = 0; i < n; i++) lookup.putIfAbsent(s.texts[i], i);

            s.bos = tokenRef(tokConfig, "bos_token", lookup, configId(config, "bos_token_id"));
            if (s.bos < 0 && postProcessorBos != null) s.bos = postProcessorBos;
            s.eos = tokenRef(tokConfig, "eos_token", lookup, configId(config, "eos_token_id"));
            s.pad = tokenRef(tokConfig, "pad_token", lookup, configId(config, "pad_token_id"));
            s.unk = tokenRef(tokConfig, "unk_token", lookup, unkToken != null ? lookup.get(unkToken) : -1);
            if (tokConfig != null && tokConfig.has("add_bos_token")) s.addBos = tokConfig.get("add_bos_token").asBoolean();
            else if (postProcessorBos != null) s.addBos = true;
            else if (!metaspace) s.addBos = false;
            if (tokConfig != null && tokConfig.has("add_eos_token")) s.addEos = tokConfig.get("add_eos_token").asBoolean();
            if (s.addBos != null && s.addBos && s.bos < 0) s.addBos = false;
            addIds(s.extraEog, config == null ? null : config.get("eos_token_id"));
            addIds(s.extraEog, genConfig == null ? null : genConfig.get("eos_token_id"));

            Vocabulary vocab = Vocabulary.build(s);
            if (metaspace) {
                // SentencePiece-style BPE: a token's score is minus the rank of the merge that makes it
                Arrays.fill(vocab.scores, 0f);
                for (int r = merges.size() - 1; r >= 0; r--) {
                    int id = vocab.ids.get(merges.get(r)[0] + merges.get(r)[1]);
                    if (id >= 0) vocab.scores[id] = -r;
                }
                return new VocabTokenizer(vocab, new SpmEncoder(vocab));
            }
            BpeMerges m = new BpeMerges(vocab, merges.size());
            for (String[] pair : merges) m.add(pair[0], pair[1]);
            merges = null;
            return new VocabTokenizer(vocab, new BpeEncoder(vocab, m, new PreTokenizer(regexes), ignoreMerges));
        }
    }

    /** A pre-tokenizer regex from the file, compiled once here so that a bad one is reported with the file's name. */
    private static String checkedRegex(Path file, String regex) {
        try {
            java.util.regex.Pattern.compile(regex, java.util.regex.Pattern.UNICODE_CHARACTER_CLASS);
            return regex;
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new ModelFormatException(file + ": pre_tokenizer Split regex is invalid (" + e.getDescription() + " at index "
                    + e.getIndex() + "): " + (regex.length() > 200 ? regex.substring(0, 200) + "..." : regex));
        }
    }

    /** llama.cpp's converter: special added tokens, and ones that look like control tokens, are CONTROL. */
    private static int addedTokenAttr(String content, boolean special) {
        boolean looksSpecial = (content.startsWith("<|") && content.endsWith("|>"))
                || content.equals("<pad>") || content.equals("<mask>") || content.equals("<2mass>") || content.equals("[@BOS@]");
        return special || looksSpecial ? TokenAttr.CONTROL : TokenAttr.USER_DEFINED;
    }

    /** BOS id if the post-processor's single-sequence template starts with a special token (Llama 3 style). */
    private static Integer bosFromPostProcessor(JsonNode pp) {
        if (pp == null || pp.isNull()) return null;
        if (pp.path("type").asText().equals("Sequence")) {
            for (JsonNode p : pp.path("processors")) {
                Integer id = bosFromPostProcessor(p);
                if (id != null) return id;
            }
            return null;
        }
        if (!pp.path("type").asText().equals("TemplateProcessing")) return null;
        JsonNode first = pp.path("single").path(0).path("SpecialToken");
        if (first.isMissingNode()) return null;
        JsonNode ids = pp.path("special_tokens").path(first.path("id").asText()).path("ids");
        return ids.isArray() && !ids.isEmpty() ? ids.get(0).asInt() : null;
    }

    private static int tokenRef(JsonNode tokConfig, String field, TokenLookup lookup, int fallback) {
        if (tokConfig == null || !tokConfig.hasNonNull(field)) return fallback;
        JsonNode v = tokConfig.get(field);
        String content = v.isTextual() ? v.asText() : v.path("content").asText(null);
        if (content == null) return fallback;
        int id = lookup.get(content);
        return id >= 0 ? id : fallback;
    }

    private static int configId(JsonNode config, String field) {
        if (config == null) return -1;
        JsonNode v = config.get(field);
        if (v == null || v.isNull()) return -1;
        if (v.isArray()) return v.isEmpty() ? -1 : v.get(0).asInt(-1);
        return v.asInt(-1);
    }

    private static void addIds(List<Integer> out, JsonNode v) {
        if (v == null || v.isNull()) return;
        if (v.isArray()) for (JsonNode x : v) out.add(x.asInt(-1));
        else if (v.canConvertToInt()) out.add(v.asInt());
    }

    private static int tokenIdOf(Path file, String field, JsonNode v) {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
            throw new ModelFormatException(file + ": field '" + field + "' has token id " + v + ", expected a non-negative integer");
        }
        if (v.asInt() >= Tokenizers.MAX_VOCAB_SIZE) {
            throw new ModelFormatException(file + ": field '" + field + "' has token id " + v + ", over the limit of "
                    + Tokenizers.MAX_VOCAB_SIZE + " tokens");
        }
        return v.asInt();
    }

    private static JsonNode require(Path file, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) throw new ModelFormatException(file + ": missing field '" + field + "'");
        return v;
    }

    private static JsonNode read(Path file) {
        try {
            String name = file.getFileName().toString();
            dev.tiller.loader.FileLimits.checkSize(file, name.equals("tokenizer.json") || name.equals("vocab.json")
                    ? dev.tiller.loader.FileLimits.MAX_TOKENIZER_FILE_BYTES : dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES);
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private static JsonNode readOptional(Path file) {
        return Files.exists(file) ? read(file) : null;
    }
}
