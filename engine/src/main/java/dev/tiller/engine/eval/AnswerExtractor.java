package dev.tiller.engine.eval;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GSM8K-style answers: the final number of a text. When the text has {@code ####}, the number after the last
 * {@code ####}; otherwise the last number in the text. Thousands separators, currency signs and a trailing period are
 * ignored; numbers compare by value ({@code 5.00 == 5}).
 */
public final class AnswerExtractor {
    private static final Pattern NUMBER = Pattern.compile("-?\\d[\\d,]*(?:\\.\\d+)?|-?\\.\\d+");

    /** The final number of a model answer or a GSM8K label, normalized ({@code "1,000.50" -> "1000.5"}). */
    public static Optional<String> finalNumber(String text) {
        if (text == null) return Optional.empty();
        int hashes = text.lastIndexOf("####");
        if (hashes >= 0) {
            Matcher m = NUMBER.matcher(text.substring(hashes + 4));
            if (m.find()) return Optional.of(normalize(m.group()));
        }
        Matcher m = NUMBER.matcher(text);
        String last = null;
        while (m.find()) last = m.group();
        return last == null ? Optional.empty() : Optional.of(normalize(last));
    }

    /** The label of a GSM8K answer: the number after {@code ####}. */
    public static Optional<String> label(String answer) {
        int hashes = answer.lastIndexOf("####");
        if (hashes < 0) return Optional.empty();
        Matcher m = NUMBER.matcher(answer.substring(hashes + 4));
        return m.find() ? Optional.of(normalize(m.group())) : Optional.empty();
    }

    static String normalize(String number) {
        String s = number.replace(",", "");
        try {
            BigDecimal d = new BigDecimal(s).stripTrailingZeros();
            return d.scale() < 0 ? d.setScale(0).toPlainString() : d.toPlainString();
        } catch (NumberFormatException e) {
            return s;
        }
    }

    /** Whether an answer shows its work: an {@code =} before {@code ####} (the arith data's definition). */
    public static boolean worked(String text) {
        int hashes = text.indexOf("####");
        String head = hashes >= 0 ? text.substring(0, hashes) : text;
        return head.contains("=");
    }

    private AnswerExtractor() {}
}
