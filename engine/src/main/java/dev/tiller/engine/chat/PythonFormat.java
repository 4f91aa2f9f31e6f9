package dev.tiller.engine.chat;

/**
 * A small subset of Python's {@code str.format}: {@code {}}, {@code {0}}, and doubled braces.
 * Chat templates only use it to splice strings into fixed text.
 */
final class PythonFormat {

    private PythonFormat() {
    }

    static String format(String pattern, Object[] args) {
        StringBuilder out = new StringBuilder();
        int auto = 0;
        int i = 0;
        while (i < pattern.length()) {
            char c = pattern.charAt(i);
            if (c == '{' && i + 1 < pattern.length() && pattern.charAt(i + 1) == '{') {
                out.append('{');
                i += 2;
            } else if (c == '}' && i + 1 < pattern.length() && pattern.charAt(i + 1) == '}') {
                out.append('}');
                i += 2;
            } else if (c == '{') {
                int close = pattern.indexOf('}', i);
                if (close < 0) {
                    throw new IllegalArgumentException("unmatched '{' in format string");
                }
                String field = pattern.substring(i + 1, close);
                int colon = field.indexOf(':');
                if (colon >= 0) {
                    field = field.substring(0, colon); // format specs are ignored: none of our templates use them
                }
                int index = field.isEmpty() ? auto++ : Integer.parseInt(field);
                if (index >= args.length) {
                    throw new IllegalArgumentException("format index " + index + " out of range");
                }
                out.append(args[index] == null ? "None" : PythonValues.str(args[index]));
                i = close + 1;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
