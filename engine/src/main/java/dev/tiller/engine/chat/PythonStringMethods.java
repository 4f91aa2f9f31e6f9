package dev.tiller.engine.chat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Python's {@code str} methods that HF chat templates call ({@code content.strip()},
 * {@code role.startswith('tool')}, {@code '{}'.format(x)}, ...). Jinjava only exposes Java's own
 * String methods ({@code startsWith}, {@code trim}), so templates written against Python's Jinja
 * would silently get nothing without these.
 */
final class PythonStringMethods {

    private PythonStringMethods() {
    }

    /** Calls Python method {@code name} on {@code s}, or returns empty when it is not one we know. */
    static Optional<Object> invoke(String s, String name, Object[] args) {
        Object[] a = args == null ? new Object[0] : args;
        Object result = switch (name) {
            case "strip" -> strip(s, charsArg(a), true, true);
            case "lstrip" -> strip(s, charsArg(a), true, false);
            case "rstrip" -> strip(s, charsArg(a), false, true);
            case "startswith" -> anyAffix(s, arg(a, 0), true);
            case "endswith" -> anyAffix(s, arg(a, 0), false);
            case "split" -> split(s, a.length > 0 ? a[0] : null, a.length > 1 ? toInt(a[1]) : -1);
            case "splitlines" -> List.copyOf(s.lines().toList());
            case "upper" -> s.toUpperCase(Locale.ROOT);
            case "lower" -> s.toLowerCase(Locale.ROOT);
            case "title" -> title(s);
            case "capitalize" -> s.isEmpty() ? s
                    : s.substring(0, 1).toUpperCase(Locale.ROOT) + s.substring(1).toLowerCase(Locale.ROOT);
            case "replace" -> replace(s, str(arg(a, 0)), str(arg(a, 1)), a.length > 2 ? toInt(a[2]) : -1);
            case "format" -> PythonFormat.format(s, a);
            case "find" -> (long) s.indexOf(str(arg(a, 0)));
            case "count" -> (long) count(s, str(arg(a, 0)));
            case "join" -> join(s, arg(a, 0));
            case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
            case "isalpha" -> !s.isEmpty() && s.chars().allMatch(Character::isLetter);
            case "isspace" -> !s.isEmpty() && s.chars().allMatch(Character::isWhitespace);
            default -> null;
        };
        return Optional.ofNullable(result);
    }

    private static Object arg(Object[] a, int i) {
        if (i >= a.length) {
            throw new IllegalArgumentException("missing argument " + (i + 1));
        }
        return a[i];
    }

    private static String charsArg(Object[] a) {
        return a.length == 0 || a[0] == null ? null : str(a[0]);
    }

    private static String str(Object o) {
        return o == null ? "None" : o.toString();
    }

    private static int toInt(Object o) {
        return o instanceof Number n ? n.intValue() : Integer.parseInt(o.toString());
    }

    /** Python strips whitespace by default, or any of the given characters. */
    static String strip(String s, String chars, boolean left, boolean right) {
        int start = 0;
        int end = s.length();
        if (left) {
            while (start < end && stripped(s.charAt(start), chars)) {
                start++;
            }
        }
        if (right) {
            while (end > start && stripped(s.charAt(end - 1), chars)) {
                end--;
            }
        }
        return s.substring(start, end);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) || Character.isSpaceChar(c) : chars.indexOf(c) >= 0;
    }

    /** startswith/endswith accept one string or a tuple (list) of alternatives. */
    private static boolean anyAffix(String s, Object affix, boolean prefix) {
        if (affix instanceof Collection<?> options) {
            for (Object option : options) {
                if (anyAffix(s, option, prefix)) {
                    return true;
                }
            }
            return false;
        }
        String a = str(affix);
        return prefix ? s.startsWith(a) : s.endsWith(a);
    }

    static List<Object> split(String s, Object sep, int maxSplit) {
        List<Object> parts = new ArrayList<>();
        if (sep == null) {
            // No separator: split on runs of whitespace and never yield empty strings.
            int i = 0;
            int n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) {
                    i++;
                }
                if (i >= n) {
                    break;
                }
                if (maxSplit >= 0 && parts.size() == maxSplit) {
                    parts.add(strip(s.substring(i), null, false, true));
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) {
                    j++;
                }
                parts.add(s.substring(i, j));
                i = j;
            }
            return parts;
        }
        String separator = str(sep);
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("empty separator");
        }
        int from = 0;
        while (maxSplit < 0 || parts.size() < maxSplit) {
            int at = s.indexOf(separator, from);
            if (at < 0) {
                break;
            }
            parts.add(s.substring(from, at));
            from = at + separator.length();
        }
        parts.add(s.substring(from));
        return parts;
    }

    /** Python's title(): a cased letter following an uncased character starts a word. */
    static String title(String s) {
        StringBuilder out = new StringBuilder(s.length());
        boolean previousCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            out.append(previousCased ? Character.toLowerCase(c) : Character.toTitleCase(c));
            previousCased = Character.isLetter(c);
        }
        return out.toString();
    }

    private static String replace(String s, String from, String to, int count) {
        if (count < 0) {
            return s.replace(from, to);
        }
        StringBuilder out = new StringBuilder();
        int start = 0;
        for (int done = 0; done < count; done++) {
            int at = s.indexOf(from, start);
            if (at < 0) {
                break;
            }
            out.append(s, start, at).append(to);
            start = at + from.length();
            if (from.isEmpty()) {
                if (start < s.length()) {
                    out.append(s.charAt(start));
                }
                start++;
            }
        }
        if (start <= s.length()) {
            out.append(s.substring(start));
        }
        return out.toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) {
            return s.length() + 1;
        }
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
            n++;
        }
        return n;
    }

    private static String join(String separator, Object items) {
        if (items instanceof Map<?, ?> map) {
            items = map.keySet();
        }
        if (!(items instanceof Iterable<?> iterable)) {
            throw new IllegalArgumentException("join() needs an iterable");
        }
        StringBuilder out = new StringBuilder();
        boolean first = true;
        for (Object item : iterable) {
            if (!first) {
                out.append(separator);
            }
            out.append(str(item));
            first = false;
        }
        return out.toString();
    }
}
