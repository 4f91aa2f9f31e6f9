package dev.tiller.tokenizer;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.gguf.GGUFMetadata;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFValueType;

/** Builds a tokenizer from GGUF {@code tokenizer.ggml.*} metadata, with llama.cpp's defaults per model type. */
final class GgufTokenizerLoader {
    private static final String P = "tokenizer.ggml.";

    private GgufTokenizerLoader() {
    }

    static Tokenizer load(GGUFMetadata md) {
        String src = md.source();
        String modelName = md.getString(P + "model");
        VocabSpec s = new VocabSpec();
        s.source = src;
        s.modelName = md.has("general.name") ? md.getString("general.name") : "";
        s.model = switch (modelName) {
            case "llama" -> VocabModel.SPM;
            case "gpt2" -> VocabModel.BPE;
            case "bert" -> VocabModel.WPM;
            default -> throw new ModelFormatException(src + ": metadata key '" + P + "model' = '" + modelName
                    + "' is not a supported tokenizer (supported: llama, gpt2, bert)");
        };
        s.texts = md.getStringArray(P + "tokens").clone();
        int n = s.texts.length;
        s.scores = readScores(md, n);
        if (md.has(P + "token_type")) {
            int[] types = md.getIntArray(P + "token_type");
            if (types.length < n) {
                throw new ModelFormatException(src + ": metadata key '" + P + "token_type' has " + types.length + " entries for " + n + " tokens");
            }
            s.attrs = new int[n];
            for (int i = 0; i < n; i++) s.attrs[i] = TokenAttr.fromGgufTokenType(types[i]);
        }

        String pre = md.has(P + "pre") ? md.getString(P + "pre") : "";
        PreTokenizers.Config preConfig = null;
        switch (s.model) {
            case SPM -> { s.bos = 1; s.eos = 2; s.unk = 0; }
            case WPM -> { s.bos = 101; s.unk = 100; s.sep = 102; s.pad = 0; }
            case BPE -> {
                s.bos = 11;
                s.eos = 11;
                preConfig = PreTokenizers.forName(pre);
                if (preConfig == null) {
                    throw new ModelFormatException(src + ": metadata key '" + P + "pre' = '" + pre + "' is an unknown pre-tokenizer type");
                }
                if (PreTokenizers.addsBosByDefault(pre)) s.addBos = true;
                if (pre.equals("glm4") || pre.equals("chatglm-bpe")) s.bos = -1;
            }
        }
        s.bos = id(md, "bos_token_id", n, s.bos);
        s.eos = id(md, "eos_token_id", n, s.eos);
        s.eot = id(md, "eot_token_id", n, s.eot);
        s.eom = id(md, "eom_token_id", n, s.eom);
        s.unk = id(md, "unknown_token_id", n, s.unk);
        s.sep = id(md, "seperator_token_id", n, s.sep);
        s.pad = id(md, "padding_token_id", n, s.pad);
        s.fimPre = id(md, "fim_pre_token_id", n, id(md, "prefix_token_id", n, -1));
        s.fimSuf = id(md, "fim_suf_token_id", n, id(md, "suffix_token_id", n, -1));
        s.fimMid = id(md, "fim_mid_token_id", n, id(md, "middle_token_id", n, -1));
        s.fimPad = id(md, "fim_pad_token_id", n, -1);
        s.fimRep = id(md, "fim_rep_token_id", n, -1);
        s.fimSep = id(md, "fim_sep_token_id", n, -1);
        if (md.has(P + "add_bos_token")) s.addBos = md.getBoolean(P + "add_bos_token", true);
        if (md.has(P + "add_eos_token")) s.addEos = md.getBoolean(P + "add_eos_token", false);
        if (md.has(P + "add_sep_token")) s.addSep = md.getBoolean(P + "add_sep_token", false);
        if (s.model == VocabModel.BPE) s.addSpacePrefix = false;
        if (md.has(P + "add_space_prefix")) s.addSpacePrefix = md.getBoolean(P + "add_space_prefix", true);

        Vocabulary vocab = Vocabulary.build(s);
        FragmentEncoder encoder = switch (s.model) {
            case SPM -> new SpmEncoder(vocab);
            case WPM -> {
                boolean lower = md.getBoolean(P + "normalizer.lowercase", true);
                yield new WpmEncoder(vocab, lower, md.getBoolean(P + "normalizer.strip_accents", lower));
            }
            case BPE -> {
                String[] merges = md.getStringArray(P + "merges");
                BpeMerges m = new BpeMerges(vocab, merges.length);
                for (String merge : merges) {
                    int space = merge.indexOf(' ', 1);
                    if (space < 0) {
                        m.add("", ""); // keep ranks aligned with llama.cpp, which stores an empty pair
                        continue;
                    }
                    m.add(merge.substring(0, space), merge.substring(space + 1));
                }
                yield new BpeEncoder(vocab, m, new PreTokenizer(preConfig.regexes()), preConfig.ignoreMerges());
            }
        };
        return new VocabTokenizer(vocab, encoder);
    }

    private static float[] readScores(GGUFMetadata md, int n) {
        String key = P + "scores";
        if (!md.has(key)) return null;
        GGUFValue v = md.get(key);
        float[] scores;
        if (v.type() == GGUFValueType.ARRAY && v.elementType() == GGUFValueType.INT32) {
            int[] ints = md.getIntArray(key);
            scores = new float[ints.length];
            for (int i = 0; i < ints.length; i++) scores[i] = ints[i];
        } else {
            scores = md.getFloatArray(key);
        }
        if (scores.length < n) {
            throw new ModelFormatException(md.source() + ": metadata key '" + key + "' has " + scores.length + " entries for " + n + " tokens");
        }
        return scores;
    }

    /** A special token id; values outside the vocabulary keep the default, like llama.cpp. */
    private static int id(GGUFMetadata md, String key, int n, int fallback) {
        if (!md.has(P + key)) return fallback;
        long v = md.getLong(P + key);
        return v >= 0 && v < n ? (int) v : fallback;
    }
}
