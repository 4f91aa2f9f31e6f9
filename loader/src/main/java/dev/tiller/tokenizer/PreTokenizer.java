package dev.tiller.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into words before BPE, like llama.cpp's {@code unicode_regex_split}: each regex in turn splits every
 * current piece into its matches and the unmatched gaps between them (both kept). Patterns use Unicode classes
 * ({@code \s} is White_Space, {@code \p{L}} letters...), which is what llama.cpp's category-collapsing emulates.
 */
final class PreTokenizer {
    private final List<Pattern> patterns;
    private final List<String> regexes;

    PreTokenizer(List<String> regexes) {
        this.regexes = List.copyOf(regexes);
        this.patterns = new ArrayList<>(regexes.size());
        for (String r : regexes) patterns.add(Pattern.compile(r, Pattern.UNICODE_CHARACTER_CLASS));
    }

    List<String> regexes() {
        return regexes;
    }

    /** The words of {@code text}, in order; their concatenation is the text. */
    List<String> split(String text) {
        List<String> words = new ArrayList<>();
        if (text.isEmpty()) return words;
        // piece boundaries as [start, end) pairs
        int[] bounds = {0, text.length()};
        int count = 1;
        for (Pattern p : patterns) {
            int[] next = new int[Math.max(8, count * 4)];
            int n = 0;
            Matcher m = p.matcher(text);
            for (int i = 0; i < count; i++) {
                int start = bounds[2 * i], end = bounds[2 * i + 1];
                m.region(start, end);
                int last = start;
                while (m.find()) {
                    if (m.end() == m.start()) continue;
                    if (m.start() > last) {
                        next = ensure(next, n);
                        next[2 * n] = last;
                        next[2 * n + 1] = m.start();
                        n++;
                    }
                    next = ensure(next, n);
                    next[2 * n] = m.start();
                    next[2 * n + 1] = m.end();
                    n++;
                    last = m.end();
                }
                if (last < end) {
                    next = ensure(next, n);
                    next[2 * n] = last;
                    next[2 * n + 1] = end;
                    n++;
                }
            }
            bounds = next;
            count = n;
        }
        for (int i = 0; i < count; i++) words.add(text.substring(bounds[2 * i], bounds[2 * i + 1]));
        return words;
    }

    private static int[] ensure(int[] a, int pairs) {
        return 2 * pairs + 2 <= a.length ? a : java.util.Arrays.copyOf(a, a.length * 2);
    }
}
