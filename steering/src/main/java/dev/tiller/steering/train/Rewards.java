package dev.tiller.steering.train;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Verifiable rewards: pluggable Java functions of (completion text, completion length in tokens, the data row). */
public final class Rewards {

    @FunctionalInterface
    public interface Reward {
        double score(String completion, int tokens, TrainData.Row row);
    }

    private static final Pattern ANSWER = Pattern.compile("####\\s*(-?[0-9][0-9,]*(?:\\.[0-9]+)?)");

    /** The number after "####", or null. */
    public static String finalAnswer(String text) {
        if (text == null) return null;
        Matcher m = ANSWER.matcher(text);
        return m.find() ? m.group(1).replace(",", "") : null;
    }

    /** 1 when the number after #### equals the row's label (the number after #### in its answer). */
    public static final Reward ANSWER_EQUALS = (text, tokens, row) -> {
        String got = finalAnswer(text), want = row.label();
        if (want == null) throw new IllegalArgumentException("row " + row.index() + " has no label (an answer with '#### N')");
        return got != null && got.equals(want) ? 1 : 0;
    };

    public static Reward containsWord(String word) {
        Pattern p = Pattern.compile("(?i)\\b" + Pattern.quote(word) + "\\b");
        return (text, tokens, row) -> p.matcher(text).find() ? 1 : 0;
    }

    public static Reward maxLength(int l) {
        return (text, tokens, row) -> tokens <= l ? 1 : 0;
    }

    /** Shaped length reward: −|tokens − target| / target (0 at the target length level). */
    public static Reward targetLength(int target) {
        return (text, tokens, row) -> -Math.abs(tokens - target) / (double) target;
    }

    /** "answer", "contains:WORD", "maxlen:L", "length:L", joined by '+' to add them. */
    public static Reward parse(String spec) {
        List<Reward> parts = new ArrayList<>();
        for (String s : spec.split("\\+")) {
            s = s.trim();
            if (s.equals("answer")) parts.add(ANSWER_EQUALS);
            else if (s.startsWith("contains:")) parts.add(containsWord(s.substring(9)));
            else if (s.startsWith("maxlen:")) parts.add(maxLength(Integer.parseInt(s.substring(7))));
            else if (s.startsWith("length:")) parts.add(targetLength(Integer.parseInt(s.substring(7))));
            else throw new IllegalArgumentException("unknown reward '" + s + "' (answer, contains:WORD, maxlen:L, length:L, joined by +)");
        }
        if (parts.size() == 1) return parts.get(0);
        return (text, tokens, row) -> {
            double r = 0;
            for (Reward p : parts) r += p.score(text, tokens, row);
            return r;
        };
    }

    private Rewards() {}
}
