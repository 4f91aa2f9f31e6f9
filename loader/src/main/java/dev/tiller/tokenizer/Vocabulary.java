package dev.tiller.tokenizer;

import dev.tiller.loader.ModelFormatException;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Set;

/**
 * Token texts, scores, attributes and special ids of one vocabulary, with llama.cpp's load-time rules applied
 * (default special ids per model type, EOG detection by token text, control-type overrides). Immutable.
 */
final class Vocabulary {
    // token texts that end generation (llama.cpp's list); they are also forced to CONTROL type
    private static final Set<String> EOG_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
            "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
            "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
            "<｜end▁of▁sentence｜>", "[e~[");
    private static final Set<String> EOT_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
            "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>");
    private static final Set<String> FIM_PRE = Set.of("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
            "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>");
    private static final Set<String> FIM_SUF = Set.of("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
            "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>");
    private static final Set<String> FIM_MID = Set.of("<|fim_middle|>", "<fim-middle>", "<fim_middle>",
            "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>");
    private static final Set<String> FIM_PAD = Set.of("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]");
    private static final Set<String> FIM_REP = Set.of("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>");
    private static final Set<String> FIM_SEP = Set.of("<|file_sep|>");

    final String source;
    final VocabModel model;
    final String[] texts;
    final float[] scores;
    final int[] attrs;
    final TokenLookup ids;
    final int bos, eos, eot, eom, unk, sep, pad;
    final boolean addBos, addEos, addSep, addSpacePrefix;
    final int[] endOfGeneration;
    /** CONTROL / USER_DEFINED / UNKNOWN tokens, longest UTF-8 text first: the order special text is split out. */
    final int[] specialsLongestFirst;
    final int maxTokenChars;

    private Vocabulary(VocabSpec s, TokenLookup ids, int[] eog, int[] specials, int maxChars) {
        this.source = s.source;
        this.model = s.model;
        this.texts = s.texts;
        this.scores = s.scores;
        this.attrs = s.attrs;
        this.ids = ids;
        this.bos = s.bos;
        this.eos = s.eos;
        this.eot = s.eot;
        this.eom = s.eom;
        this.unk = s.unk;
        this.sep = s.sep;
        this.pad = s.pad;
        this.addBos = s.addBos;
        this.addEos = s.addEos;
        this.addSep = s.addSep;
        this.addSpacePrefix = s.addSpacePrefix;
        this.endOfGeneration = eog;
        this.specialsLongestFirst = specials;
        this.maxTokenChars = maxChars;
    }

    int size() {
        return texts.length;
    }

    boolean has(int id, int attrBits) {
        return (attrs[id] & attrBits) != 0;
    }

    static Vocabulary build(VocabSpec s) {
        int n = s.texts.length;
        if (n == 0) throw new ModelFormatException(s.source + ": vocabulary is empty");
        if (n > Tokenizers.MAX_VOCAB_SIZE) {
            throw new ModelFormatException(s.source + ": vocabulary of " + n + " tokens is over the limit of " + Tokenizers.MAX_VOCAB_SIZE);
        }
        if (s.scores == null) s.scores = new float[n];
        if (s.attrs == null) {
            s.attrs = new int[n];
            Arrays.fill(s.attrs, TokenAttr.NORMAL);
        }
        if (s.scores.length < n) throw new ModelFormatException(s.source + ": " + s.scores.length + " scores for " + n + " tokens");
        if (s.attrs.length < n) throw new ModelFormatException(s.source + ": " + s.attrs.length + " token types for " + n + " tokens");

        TokenLookup ids = new TokenLookup(n);
        int maxChars = 0;
        for (int i = 0; i < n; i++) {
            String t = s.texts[i];
            if (t == null || t.isEmpty()) {
                t = "[EMPTY_" + i + "]"; // llama.cpp's placeholder, so lookups stay one-to-one
                s.texts[i] = t;
            }
            int prev = ids.putIfAbsent(t, i);
            if (prev >= 0) {
                throw new ModelFormatException(s.source + ": duplicate token in vocabulary: '" + t + "' has ids " + prev + " and " + i);
            }
            maxChars = Math.max(maxChars, t.length());
        }
        applyModelDefaults(s, n);
        detectSpecialTokens(s, ids);
        int[] eog = endOfGenerationIds(s);
        int[] specials = specialsLongestFirst(s);
        if (s.addBos && s.bos < 0) throw new ModelFormatException(s.source + ": add_bos_token is true, but the BOS token id is not set");
        if (s.addEos && s.eos < 0) throw new ModelFormatException(s.source + ": add_eos_token is true, but the EOS token id is not set");
        return new Vocabulary(s, ids, eog, specials, maxChars);
    }

    private static void applyModelDefaults(VocabSpec s, int n) {
        switch (s.model) {
            case SPM -> {
                if (s.addBos == null) s.addBos = true;
                if (s.addSpacePrefix == null) s.addSpacePrefix = true;
            }
            case WPM -> {
                if (s.addBos == null) s.addBos = true;
                if (s.addSep == null) s.addSep = true;
                if (s.addSpacePrefix == null) s.addSpacePrefix = false;
            }
            case BPE -> {
                if (s.addBos == null) s.addBos = false;
                if (s.addSpacePrefix == null) s.addSpacePrefix = false;
            }
        }
        if (s.addEos == null) s.addEos = false;
        if (s.addSep == null) s.addSep = false;
        // ids outside the vocabulary (e.g. uint32 -1 written for "none") disable the token
        s.bos = inRange(s.bos, n);
        s.eos = inRange(s.eos, n);
        s.eot = inRange(s.eot, n);
        s.eom = inRange(s.eom, n);
        s.unk = inRange(s.unk, n);
        s.sep = inRange(s.sep, n);
        s.pad = inRange(s.pad, n);
        s.fimPre = inRange(s.fimPre, n);
        s.fimSuf = inRange(s.fimSuf, n);
        s.fimMid = inRange(s.fimMid, n);
        s.fimPad = inRange(s.fimPad, n);
        s.fimRep = inRange(s.fimRep, n);
        s.fimSep = inRange(s.fimSep, n);
    }

    private static int inRange(int id, int n) {
        return id >= 0 && id < n ? id : -1;
    }

    /** llama.cpp finds EOT / EOM / FIM tokens by their text when the file does not name them, and marks them CONTROL. */
    private static void detectSpecialTokens(VocabSpec s, TokenLookup ids) {
        String[] t = s.texts;
        int[] a = s.attrs;
        for (int i = 0; i < t.length; i++) {
            String text = t[i];
            if (s.eot < 0 && EOT_TEXTS.contains(text)) s.eot = markControl(a, i);
            if (s.eom < 0 && text.equals("<|eom_id|>")) s.eom = markControl(a, i);
            if (s.fimPre < 0 && FIM_PRE.contains(text)) s.fimPre = markControl(a, i);
            if (s.fimSuf < 0 && FIM_SUF.contains(text)) s.fimSuf = markControl(a, i);
            if (s.fimMid < 0 && FIM_MID.contains(text)) s.fimMid = markControl(a, i);
            if (s.fimPad < 0 && FIM_PAD.contains(text)) s.fimPad = markControl(a, i);
            if (s.fimRep < 0 && FIM_REP.contains(text)) s.fimRep = markControl(a, i);
            if (s.fimSep < 0 && FIM_SEP.contains(text)) s.fimSep = markControl(a, i);
            if (EOG_TEXTS.contains(text)) markControl(a, i);
            // gpt-oss renders these in normal output
            if (text.equals("<|channel|>") || text.equals("<|message|>") || text.equals("<|start|>") || text.equals("<|constrain|>")) {
                a[i] = TokenAttr.USER_DEFINED;
            }
        }
        // Phi-3: special tokens swallow the whitespace after them (llama.cpp keys this off the model name)
        String name = s.modelName.toLowerCase(java.util.Locale.ROOT);
        if (name.contains("phi-3") || name.contains("phi3")) {
            for (int i = 0; i < t.length; i++) {
                if ((a[i] & (TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN)) != 0) a[i] |= TokenAttr.RSTRIP;
            }
            setStrip(ids, a, "</s>", true);
            setStrip(ids, a, "<unk>", false);
            setStrip(ids, a, "<s>", false);
            setStrip(ids, a, "<|endoftext|>", false);
        }
    }

    private static void setStrip(TokenLookup ids, int[] a, String text, boolean on) {
        int id = ids.get(text);
        if (id < 0) return;
        a[id] = on ? a[id] | TokenAttr.RSTRIP : a[id] & ~TokenAttr.RSTRIP;
    }

    private static int markControl(int[] a, int id) {
        a[id] |= TokenAttr.CONTROL;
        return id;
    }

    private static int[] endOfGenerationIds(VocabSpec s) {
        BitSet eog = new BitSet(s.texts.length);
        for (int id : new int[] {s.fimPad, s.fimRep, s.fimSep, s.eos, s.eot, s.eom}) {
            if (id >= 0) eog.set(id);
        }
        for (int i = 0; i < s.texts.length; i++) {
            if (EOG_TEXTS.contains(s.texts[i])) eog.set(i);
        }
        for (int id : s.extraEog) {
            if (id >= 0 && id < s.texts.length) eog.set(id);
        }
        // o200k_harmony: with <|return|> and <|call|> present, <|end|> only ends a message, not generation
        int end = indexOf(s.texts, eog, "<|end|>");
        boolean hasReturn = indexOf(s.texts, eog, "<|return|>") >= 0;
        boolean hasCall = indexOf(s.texts, eog, "<|call|>") >= 0 || indexOf(s.texts, eog, "<|calls|>") >= 0;
        boolean hasFlush = indexOf(s.texts, eog, "<|flush|>") >= 0;
        if (end >= 0 && hasCall && (hasReturn || hasFlush)) {
            eog.clear(end);
            s.attrs[end] = TokenAttr.USER_DEFINED;
        }
        return eog.stream().toArray();
    }

    private static int indexOf(String[] texts, BitSet set, String text) {
        for (int i = set.nextSetBit(0); i >= 0; i = set.nextSetBit(i + 1)) {
            if (texts[i].equals(text)) return i;
        }
        return -1;
    }

    private static int[] specialsLongestFirst(VocabSpec s) {
        int count = 0;
        int mask = TokenAttr.CONTROL | TokenAttr.USER_DEFINED | TokenAttr.UNKNOWN;
        for (int a : s.attrs) if ((a & mask) != 0) count++;
        long[] keyed = new long[count];
        int k = 0;
        for (int i = 0; i < s.texts.length; i++) {
            if ((s.attrs[i] & mask) != 0) {
                int bytes = s.texts[i].getBytes(StandardCharsets.UTF_8).length;
                // sort by byte length descending, then id ascending
                keyed[k++] = ((long) (Integer.MAX_VALUE - bytes) << 32) | i;
            }
        }
        Arrays.sort(keyed);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) out[i] = (int) keyed[i];
        return out;
    }
}
