package dev.tiller.engine.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.Map;

/**
 * {@code tojson} as HF's chat renderer defines it: {@code json.dumps(x, ensure_ascii=False,
 * indent=indent, separators=separators, sort_keys=sort_keys)}. Replaces Jinjava's, which uses
 * Jackson's compact spelling.
 */
final class TojsonFilter implements Filter {

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        return filter(var, interpreter, args, Map.of());
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
        boolean ensureAscii = truthy(kwargs.get("ensure_ascii"));
        boolean sortKeys = truthy(kwargs.get("sort_keys"));
        String itemSeparator = null;
        String keySeparator = null;
        if (kwargs.get("separators") instanceof java.util.List<?> separators && separators.size() == 2) {
            itemSeparator = String.valueOf(separators.get(0));
            keySeparator = String.valueOf(separators.get(1));
        }
        return new PythonJson(indentString(indent), ensureAscii, sortKeys, itemSeparator, keySeparator).write(var);
    }

    private static boolean truthy(Object o) {
        return o instanceof Boolean b ? b : o != null && !"false".equalsIgnoreCase(o.toString());
    }

    /** json.dumps takes an indent as a number of spaces or as the string to indent with. */
    private static String indentString(Object indent) {
        if (indent == null) {
            return null;
        }
        if (indent instanceof Number n) {
            return " ".repeat(n.intValue());
        }
        String s = indent.toString();
        return s.matches("\\d+") ? " ".repeat(Integer.parseInt(s)) : s;
    }
}
