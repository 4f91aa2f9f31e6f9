package dev.tiller.engine.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;

/**
 * Rewrites the Python-Jinja spellings that Jinjava parses differently, or not at all, into
 * equivalents it handles, before the template is parsed. Only code inside {@code {{ }}} and
 * {@code {% %}} is touched; text, comments and string literals pass through unchanged.
 *
 * <ul>
 *   <li>{@code not} binds looser than comparisons and tests in Jinja ({@code not x is defined} is
 *       {@code not (x is defined)}) but tighter in Jinjava's EL grammar: the operand is wrapped
 *       in parentheses.</li>
 *   <li>keyword-argument values ({@code namespace(i=messages|length - 1)}) are cut short by
 *       Jinjava at the first operator: they are wrapped in parentheses.</li>
 *   <li>the reversing slice {@code x[::-1]}, which Jinjava cannot parse, becomes
 *       {@code (x|reverse)}.</li>
 * </ul>
 */
final class JinjaCompat {

    private JinjaCompat() {
    }

    private static final Set<String> KEYWORDS = Set.of(
            "and", "or", "not", "in", "is", "if", "else", "for", "set", "true", "false", "none",
            "True", "False", "None");

    static String rewrite(String source) {
        StringBuilder out = new StringBuilder(source.length() + 64);
        int i = 0;
        int n = source.length();
        while (i < n) {
            if (source.startsWith("{#", i)) {
                int end = source.indexOf("#}", i + 2);
                end = end < 0 ? n : end + 2;
                out.append(source, i, end);
                i = end;
            } else if (source.startsWith("{{", i) || source.startsWith("{%", i)) {
                boolean statement = source.charAt(i + 1) == '%';
                String closer = statement ? "%}" : "}}";
                int codeStart = i + 2;
                if (codeStart < n && (source.charAt(codeStart) == '-' || source.charAt(codeStart) == '+')) {
                    codeStart++;
                }
                int close = findCloser(source, codeStart, closer);
                int codeEnd = close;
                if (codeEnd > codeStart && (source.charAt(codeEnd - 1) == '-' || source.charAt(codeEnd - 1) == '+')) {
                    codeEnd--;
                }
                String code = source.substring(codeStart, codeEnd);
                out.append(source, i, codeStart).append(rewriteCode(code, statement));
                int end = Math.min(n, close + 2);
                out.append(source, codeEnd, end);
                i = end;
                if (statement && code.trim().equals("raw")) {
                    int endRaw = source.indexOf("endraw", i);
                    int rawEnd = endRaw < 0 ? n : source.lastIndexOf("{%", endRaw);
                    out.append(source, i, rawEnd);
                    i = rawEnd;
                }
            } else {
                out.append(source.charAt(i++));
            }
        }
        return out.toString();
    }

    /** Index of the closing delimiter, skipping string literals that might contain it. */
    private static int findCloser(String s, int from, String closer) {
        int i = from;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                i = skipString(s, i);
            } else if (s.startsWith(closer, i)) {
                return i;
            } else {
                i++;
            }
        }
        return s.length();
    }

    private static int skipString(String s, int start) {
        char quote = s.charAt(start);
        int i = start + 1;
        while (i < s.length() && s.charAt(i) != quote) {
            i += s.charAt(i) == '\\' ? 2 : 1;
        }
        return Math.min(s.length(), i + 1);
    }

    static String rewriteCode(String code, boolean statement) {
        List<Token> tokens = Token.split(code);
        tokens = reverseSlices(tokens);
        String first = firstName(tokens);
        if (!statement || !(first.equals("macro") || first.equals("call"))) {
            tokens = wrapKeywordArguments(tokens);
        }
        tokens = wrapNotOperands(tokens);
        StringBuilder out = new StringBuilder(code.length() + 16);
        tokens.forEach(t -> out.append(t.text()));
        return out.toString();
    }

    private static String firstName(List<Token> tokens) {
        for (Token t : tokens) {
            if (t.kind() != Token.Kind.SPACE) {
                return t.text();
            }
        }
        return "";
    }

    // ---- x[::-1] -> (x|reverse)

    private static List<Token> reverseSlices(List<Token> input) {
        List<Token> tokens = new ArrayList<>(input);
        for (int i = 0; i < tokens.size(); i++) {
            if (!tokens.get(i).is("[")) {
                continue;
            }
            int end = matchSequence(tokens, i + 1, ":", ":", "-", "1", "]");
            if (end < 0) {
                continue;
            }
            int start = operandStart(tokens, i - 1);
            if (start < 0) {
                continue;
            }
            tokens.subList(i, end + 1).clear();
            tokens.add(i, Token.op("|reverse)"));
            tokens.add(start, Token.op("("));
        }
        return tokens;
    }

    /** Index after which the given texts follow one another (spaces allowed between), or -1. */
    private static int matchSequence(List<Token> tokens, int from, String... texts) {
        int j = from;
        for (String text : texts) {
            j = nextNonSpace(tokens, j);
            if (j >= tokens.size() || !tokens.get(j).text().equals(text)) {
                return -1;
            }
            j++;
        }
        return j - 1;
    }

    /** Walks back over a primary expression: names, literals, attribute access, calls, subscripts. */
    private static int operandStart(List<Token> tokens, int last) {
        int j = previousNonSpace(tokens, last);
        int start = -1;
        while (j >= 0) {
            Token t = tokens.get(j);
            if (t.is(")") || t.is("]")) {
                int open = matchingOpen(tokens, j);
                if (open < 0) {
                    return -1;
                }
                start = open;
                int before = previousNonSpace(tokens, open - 1);
                if (before >= 0 && isOperandEnd(tokens.get(before))) {
                    j = before; // a call or subscript: its target belongs to the operand
                    continue;
                }
                break;
            } else if (isValue(t)) {
                start = j;
                int before = previousNonSpace(tokens, j - 1);
                if (before >= 0 && tokens.get(before).is(".")) {
                    j = previousNonSpace(tokens, before - 1);
                    continue;
                }
                break;
            } else {
                break;
            }
        }
        return start;
    }

    private static boolean isValue(Token t) {
        return t.kind() == Token.Kind.STRING || t.kind() == Token.Kind.NUMBER
                || (t.kind() == Token.Kind.NAME && !KEYWORDS.contains(t.text()))
                || (t.kind() == Token.Kind.NAME && Set.of("true", "false", "none", "True", "False", "None").contains(t.text()));
    }

    private static boolean isOperandEnd(Token t) {
        return t.is(")") || t.is("]") || t.kind() == Token.Kind.STRING
                || (t.kind() == Token.Kind.NAME && !KEYWORDS.contains(t.text()));
    }

    private static int matchingOpen(List<Token> tokens, int close) {
        int depth = 0;
        for (int j = close; j >= 0; j--) {
            Token t = tokens.get(j);
            if (t.isClosing()) {
                depth++;
            } else if (t.isOpening()) {
                depth--;
                if (depth == 0) {
                    return j;
                }
            }
        }
        return -1;
    }

    // ---- f(key=a - 1) -> f(key=(a - 1))

    private static List<Token> wrapKeywordArguments(List<Token> tokens) {
        List<Token> out = new ArrayList<>(tokens.size() + 8);
        Deque<boolean[]> frames = new ArrayDeque<>(); // [isCall, valueOpen]
        int i = 0;
        while (i < tokens.size()) {
            Token t = tokens.get(i);
            if (t.isOpening()) {
                boolean call = t.is("(") && !out.isEmpty() && isCallTarget(out);
                out.add(t);
                frames.push(new boolean[] {call, false});
                i++;
                if (call) {
                    i = openKeywordValue(tokens, i, out, frames.peek());
                }
            } else if (t.isClosing()) {
                if (!frames.isEmpty()) {
                    if (frames.peek()[1]) {
                        out.add(Token.op(")"));
                    }
                    frames.pop();
                }
                out.add(t);
                i++;
            } else if (t.is(",") && !frames.isEmpty() && frames.peek()[0]) {
                if (frames.peek()[1]) {
                    out.add(Token.op(")"));
                    frames.peek()[1] = false;
                }
                out.add(t);
                i = openKeywordValue(tokens, i + 1, out, frames.peek());
            } else {
                out.add(t);
                i++;
            }
        }
        return out;
    }

    private static boolean isCallTarget(List<Token> out) {
        int j = previousNonSpace(out, out.size() - 1);
        return j >= 0 && isOperandEnd(out.get(j)) && out.get(j).kind() != Token.Kind.STRING;
    }

    /** At the start of an argument: if it is {@code name=value}, copies {@code name=} and opens a paren. */
    private static int openKeywordValue(List<Token> tokens, int at, List<Token> out, boolean[] frame) {
        int name = nextNonSpace(tokens, at);
        if (name >= tokens.size() || tokens.get(name).kind() != Token.Kind.NAME) {
            return at;
        }
        int eq = nextNonSpace(tokens, name + 1);
        if (eq >= tokens.size() || !tokens.get(eq).is("=")) {
            return at;
        }
        out.addAll(tokens.subList(at, eq + 1));
        out.add(Token.op("("));
        frame[1] = true;
        return eq + 1;
    }

    // ---- not a == b -> not (a == b)

    private static final Set<String> NOT_OPERAND_ENDS = Set.of("and", "or", "if", "else");

    private static List<Token> wrapNotOperands(List<Token> tokens) {
        List<Token> out = new ArrayList<>(tokens.size() + 8);
        Deque<Integer> openedAtDepth = new ArrayDeque<>();
        int depth = 0;
        for (int i = 0; i < tokens.size(); i++) {
            Token t = tokens.get(i);
            if (t.isClosing()) {
                closeNots(openedAtDepth, depth, out);
                depth--;
                out.add(t);
            } else if (t.is(",") || (t.kind() == Token.Kind.NAME && NOT_OPERAND_ENDS.contains(t.text()))) {
                closeNots(openedAtDepth, depth, out);
                out.add(t);
            } else if (t.isOpening()) {
                depth++;
                out.add(t);
            } else if (t.is("not") && t.kind() == Token.Kind.NAME && isUnaryNot(tokens, i)) {
                out.add(t);
                out.add(Token.op(" ("));
                openedAtDepth.push(depth);
            } else {
                out.add(t);
            }
        }
        closeNots(openedAtDepth, depth, out);
        return out;
    }

    /** {@code is not} and {@code not in} are operators of their own, not the unary {@code not}. */
    private static boolean isUnaryNot(List<Token> tokens, int i) {
        int before = previousNonSpace(tokens, i - 1);
        int after = nextNonSpace(tokens, i + 1);
        boolean isNot = before >= 0 && tokens.get(before).is("is");
        boolean notIn = after < tokens.size() && tokens.get(after).is("in");
        return !isNot && !notIn;
    }

    private static void closeNots(Deque<Integer> openedAtDepth, int depth, List<Token> out) {
        while (!openedAtDepth.isEmpty() && openedAtDepth.peek() >= depth) {
            openedAtDepth.pop();
            out.add(Token.op(")"));
        }
    }

    private static int nextNonSpace(List<Token> tokens, int from) {
        int j = from;
        while (j < tokens.size() && tokens.get(j).kind() == Token.Kind.SPACE) {
            j++;
        }
        return j;
    }

    private static int previousNonSpace(List<Token> tokens, int from) {
        int j = from;
        while (j >= 0 && tokens.get(j).kind() == Token.Kind.SPACE) {
            j--;
        }
        return j;
    }

    /** A lexical token of Jinja expression code; concatenating the texts gives the code back. */
    record Token(Kind kind, String text) {

        enum Kind { SPACE, STRING, NAME, NUMBER, OP }

        static Token op(String text) {
            return new Token(Kind.OP, text);
        }

        boolean is(String s) {
            return kind != Kind.STRING && text.equals(s);
        }

        boolean isOpening() {
            return is("(") || is("[") || is("{");
        }

        boolean isClosing() {
            return is(")") || is("]") || is("}");
        }

        static List<Token> split(String code) {
            List<Token> tokens = new ArrayList<>();
            int i = 0;
            int n = code.length();
            while (i < n) {
                char c = code.charAt(i);
                int j = i + 1;
                Kind kind;
                if (Character.isWhitespace(c)) {
                    while (j < n && Character.isWhitespace(code.charAt(j))) {
                        j++;
                    }
                    kind = Kind.SPACE;
                } else if (c == '\'' || c == '"') {
                    j = skipString(code, i);
                    kind = Kind.STRING;
                } else if (Character.isLetter(c) || c == '_') {
                    while (j < n && (Character.isLetterOrDigit(code.charAt(j)) || code.charAt(j) == '_')) {
                        j++;
                    }
                    kind = Kind.NAME;
                } else if (Character.isDigit(c)) {
                    while (j < n && (Character.isLetterOrDigit(code.charAt(j)) || code.charAt(j) == '.')) {
                        j++;
                    }
                    kind = Kind.NUMBER;
                } else {
                    String two = code.substring(i, Math.min(n, i + 2));
                    if (Set.of("==", "!=", "<=", ">=", "//", "**").contains(two)) {
                        j = i + 2;
                    }
                    kind = Kind.OP;
                }
                tokens.add(new Token(kind, code.substring(i, j)));
                i = j;
            }
            return tokens;
        }
    }
}
