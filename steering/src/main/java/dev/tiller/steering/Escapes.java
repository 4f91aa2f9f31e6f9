package dev.tiller.steering;

/**
 * The backslash escapes that prompt files and command-line text use, read the way llama.cpp reads them, so that a
 * prompt, template or stop string typed as {@code 'Q: {question}\nA:'} means the same here as there.
 */
public final class Escapes {
    /** llama.cpp's string_process_escapes for the escapes prompt files use: \n, \t, \r, \\, \", \'; any other
     * backslash stays as it is. */
    public static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case '\\' -> b.append('\\');
                    case '"' -> b.append('"');
                    case '\'' -> b.append('\'');
                    default -> b.append('\\').append(n);
                }
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private Escapes() {}
}
