package dev.tiller.engine.chat;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Python's {@code json.dumps}, byte for byte for the values chat templates serialize (tool
 * definitions, tool-call arguments). HF's {@code tojson} filter calls it with
 * {@code ensure_ascii=False} by default, and with its separators: {@code ", "} and {@code ": "}
 * on one line, {@code ","} and {@code ": "} when indenting. Jackson's output differs in both.
 */
final class PythonJson {

    private final String indent;       // null: all on one line
    private final boolean ensureAscii;
    private final boolean sortKeys;
    private final String itemSeparator;
    private final String keySeparator;

    PythonJson(String indent, boolean ensureAscii, boolean sortKeys, String itemSeparator, String keySeparator) {
        this.indent = indent;
        this.ensureAscii = ensureAscii;
        this.sortKeys = sortKeys;
        this.itemSeparator = itemSeparator != null ? itemSeparator : (indent == null ? ", " : ",");
        this.keySeparator = keySeparator != null ? keySeparator : ": ";
    }

    static String dumps(Object value) {
        return new PythonJson(null, false, false, null, null).write(value);
    }

    String write(Object value) {
        StringBuilder out = new StringBuilder();
        write(value, out, 0);
        return out.toString();
    }

    private void write(Object value, StringBuilder out, int depth) {
        switch (value) {
            case null -> out.append("null");
            case Boolean b -> out.append(b ? "true" : "false");
            case Double d -> out.append(floatRepr(d));
            case Float f -> out.append(floatRepr(f.doubleValue()));
            case Number n -> out.append(n);
            case CharSequence s -> writeString(s.toString(), out);
            case Map<?, ?> map -> writeObject(map, out, depth);
            case Map.Entry<?, ?> entry -> writeArray(List.of(entry.getKey(), entry.getValue()), out, depth);
            case Collection<?> list -> writeArray(list, out, depth);
            case Object[] array -> writeArray(List.of(array), out, depth);
            default -> writeString(value.toString(), out);
        }
    }

    private void writeObject(Map<?, ?> map, StringBuilder out, int depth) {
        if (map.isEmpty()) {
            out.append("{}");
            return;
        }
        List<Map.Entry<?, ?>> entries = new ArrayList<>(map.entrySet());
        if (sortKeys) {
            entries.sort((a, b) -> String.valueOf(a.getKey()).compareTo(String.valueOf(b.getKey())));
        }
        out.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : entries) {
            if (!first) {
                out.append(itemSeparator);
            }
            newline(out, depth + 1);
            writeString(keyString(e.getKey()), out);
            out.append(keySeparator);
            write(e.getValue(), out, depth + 1);
            first = false;
        }
        newline(out, depth);
        out.append('}');
    }

    /** Python turns non-string keys into their JSON spelling. */
    private static String keyString(Object key) {
        if (key == null) {
            return "null";
        }
        if (key instanceof Boolean b) {
            return b ? "true" : "false";
        }
        return key.toString();
    }

    private void writeArray(Collection<?> list, StringBuilder out, int depth) {
        if (list.isEmpty()) {
            out.append("[]");
            return;
        }
        out.append('[');
        boolean first = true;
        for (Object item : list) {
            if (!first) {
                out.append(itemSeparator);
            }
            newline(out, depth + 1);
            write(item, out, depth + 1);
            first = false;
        }
        newline(out, depth);
        out.append(']');
    }

    private void newline(StringBuilder out, int depth) {
        if (indent != null) {
            out.append('\n');
            out.append(indent.repeat(depth));
        }
    }

    private void writeString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || (ensureAscii && c > 0x7e)) {
                        // UTF-16 units are exactly what Python writes, surrogate pairs included.
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** Python's float repr: shortest round-trip digits, "1.0" not "1", "1e-05" not "1.0E-5". */
    static String floatRepr(double d) {
        if (Double.isNaN(d)) {
            return "NaN";
        }
        if (Double.isInfinite(d)) {
            return d > 0 ? "Infinity" : "-Infinity";
        }
        String java = Double.toString(d);
        int e = java.indexOf('E');
        if (e < 0) {
            return java;
        }
        // Java switches to exponent form at 1e7 and below 1e-3, Python at 1e16 and below 1e-4.
        java.math.BigDecimal exact = new java.math.BigDecimal(java);
        int exponent = Integer.parseInt(java.substring(e + 1));
        if (exponent >= -4 && exponent < 16) {
            String plain = exact.toPlainString();
            return plain.contains(".") ? plain : plain + ".0";
        }
        String mantissa = java.substring(0, e);
        if (mantissa.endsWith(".0")) {
            mantissa = mantissa.substring(0, mantissa.length() - 2);
        }
        return mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }
}
