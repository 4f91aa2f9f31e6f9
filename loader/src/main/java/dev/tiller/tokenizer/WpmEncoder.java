package dev.tiller.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;

/**
 * WordPiece as in llama.cpp's {@code llm_tokenizer_wpm}: BERT-style normalization (optional lowercasing and accent
 * stripping; punctuation, ASCII symbols and CJK ideographs become single-character words), then per word a greedy
 * longest match from the left with a {@code ▁} marking the word start; a word with any unmatched position becomes
 * the unknown token.
 */
final class WpmEncoder implements FragmentEncoder {
    private final Vocabulary vocab;
    private final boolean lowercase;
    private final boolean stripAccents;

    WpmEncoder(Vocabulary vocab, boolean lowercase, boolean stripAccents) {
        this.vocab = vocab;
        this.lowercase = lowercase;
        this.stripAccents = stripAccents;
    }

    @Override
    public void encode(String text, boolean afterSpecial, IntList out) {
        for (String word : words(text)) {
            char[] w = ("\u2581" + word).toCharArray();
            int n = w.length;
            int before = out.size();
            for (int i = 0; i < n; ) {
                int matchEnd = -1;
                for (int j = Math.min(n, i + vocab.maxTokenChars); j > i; j--) {
                    int id = vocab.ids.get(w, i, j);
                    if (id >= 0) {
                        out.add(id);
                        matchEnd = j;
                        break;
                    }
                }
                if (matchEnd < 0) {
                    out.truncate(before);
                    break;
                }
                i = matchEnd;
            }
            if (out.size() == before && vocab.unk >= 0) out.add(vocab.unk);
        }
    }

    List<String> words(String text) {
        List<String> words = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (stripAccents) cp = firstOfDecomposition(cp);
            if (UnicodeClass.isWhitespace(cp)) {
                flush(words, cur);
                continue;
            }
            int type = Character.getType(cp);
            if (cp == 0 || cp == 0xFFFD || UnicodeClass.isControl(type)) continue;
            if (stripAccents && UnicodeClass.isMark(type)) continue;
            if (lowercase) cp = Character.toLowerCase(cp);
            if (UnicodeClass.isPunctuation(type) || (cp < 0x7F && UnicodeClass.isSymbol(type)) || isChineseChar(cp)) {
                flush(words, cur);
                words.add(new String(Character.toChars(cp)));
            } else {
                cur.appendCodePoint(cp);
            }
        }
        flush(words, cur);
        return words;
    }

    private static void flush(List<String> words, StringBuilder cur) {
        if (!cur.isEmpty()) {
            words.add(cur.toString());
            cur.setLength(0);
        }
    }

    // llama.cpp's NFD table maps each code point to the first code point of its canonical decomposition
    private static int firstOfDecomposition(int cp) {
        if (cp < 0xC0) return cp;
        String s = new String(Character.toChars(cp));
        String nfd = Normalizer.normalize(s, Normalizer.Form.NFD);
        return nfd.equals(s) ? cp : nfd.codePointAt(0);
    }

    private static boolean isChineseChar(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B920 && cp <= 0x2CEAF) // HF's range (0x2B820 in Unicode)
                || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
