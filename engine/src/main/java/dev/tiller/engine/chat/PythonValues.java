package dev.tiller.engine.chat;

/** How Python's {@code str()} spells the scalar values a template may splice into text. */
final class PythonValues {

    private PythonValues() {
    }

    static String str(Object value) {
        if (value == null) {
            return "None";
        }
        if (value instanceof Boolean b) {
            return b ? "True" : "False";
        }
        return value.toString();
    }
}
