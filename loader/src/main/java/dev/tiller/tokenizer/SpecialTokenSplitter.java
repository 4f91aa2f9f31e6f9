package dev.tiller.tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits text into raw-text fragments and special tokens, the way llama.cpp's {@code tokenizer_st_partition} does:
 * special tokens are taken longest first and every occurrence in every remaining raw fragment is cut out.
 * User-defined tokens are always split out; control and unknown tokens only when parsing special tokens.
 */
final class SpecialTokenSplitter {
    /** A raw text range ({@code token == -1}) or a special token. */
    record Fragment(int start, int end, int token) {
        boolean isText() {
            return token < 0;
        }
    }

    private final Vocabulary vocab;

    SpecialTokenSplitter(Vocabulary vocab) {
        this.vocab = vocab;
    }

    List<Fragment> split(String text, boolean parseSpecial) {
        List<Fragment> fragments = new ArrayList<>();
        if (text.isEmpty()) return fragments;
        fragments.add(new Fragment(0, text.length(), -1));
        for (int id : vocab.specialsLongestFirst) {
            if (!parseSpecial && vocab.has(id, TokenAttr.CONTROL | TokenAttr.UNKNOWN)) continue;
            String special = vocab.texts[id];
            if (text.indexOf(special) < 0) continue;
            fragments = cutOut(text, fragments, id, special);
        }
        return fragments;
    }

    private List<Fragment> cutOut(String text, List<Fragment> in, int id, String special) {
        boolean lstrip = vocab.has(id, TokenAttr.LSTRIP);
        boolean rstrip = vocab.has(id, TokenAttr.RSTRIP);
        List<Fragment> out = new ArrayList<>(in.size() + 4);
        for (Fragment f : in) {
            if (!f.isText()) {
                out.add(f);
                continue;
            }
            int start = f.start(), end = f.end();
            while (start < end) {
                int match = indexOfWithin(text, special, start, end);
                if (match < 0) {
                    out.add(new Fragment(start, end, -1));
                    break;
                }
                int leftEnd = match;
                if (lstrip) while (leftEnd > start && isSpace(text.charAt(leftEnd - 1))) leftEnd--;
                if (leftEnd > start) out.add(new Fragment(start, leftEnd, -1));
                out.add(new Fragment(match, match + special.length(), id));
                start = match + special.length();
                if (rstrip) while (start < end && isSpace(text.charAt(start))) start++;
            }
        }
        return out;
    }

    private static int indexOfWithin(String text, String needle, int from, int end) {
        int i = text.indexOf(needle, from);
        return i >= 0 && i + needle.length() <= end ? i : -1;
    }

    // C isspace() in the "C" locale
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }
}
