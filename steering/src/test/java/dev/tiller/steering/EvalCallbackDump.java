package dev.tiller.steering;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads llama.cpp's eval-callback dump: for each tensor a header {@code ggml_debug: NAME = (f32) OP(...) = {ne0, ne1, ...}}
 * then its values row by row, each row printed as its first three and last three values around "...". A name
 * printed twice (llama.cpp reuses names such as {@code Qcur-0} before and after RoPE) keeps the last one.
 */
final class EvalCallbackDump {

    /** A printed tensor: {@code rows[r]} holds the printed values of row r, {@code head} of them from the front, the rest from the back. */
    record Printed(String name, long[] ne, List<float[]> rows, double sum) {}

    private static final Pattern HEADER = Pattern.compile("^ggml_debug:\\s+(.+?) = \\((\\w+)\\).*= \\{([\\d, ]+)\\}\\s*$");
    private static final Pattern NUMBER = Pattern.compile("-?\\d+\\.\\d+(?:e[-+]?\\d+)?|-?inf|nan");

    static Map<String, Printed> read(Path p) throws IOException {
        Map<String, Printed> out = new LinkedHashMap<>();
        String name = null;
        long[] ne = null;
        List<float[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(p)) {
            Matcher h = HEADER.matcher(line);
            if (h.matches()) {
                name = h.group(1).trim();
                String[] dims = h.group(3).split(",");
                ne = new long[dims.length];
                for (int i = 0; i < dims.length; i++) ne[i] = Long.parseLong(dims[i].trim());
                rows = new ArrayList<>();
                continue;
            }
            if (name == null) continue;
            String t = line.trim();
            if (t.startsWith("sum = ")) {
                out.put(name, new Printed(name, ne, rows, Double.parseDouble(t.substring(6).trim())));
                name = null;
            } else if (t.startsWith("[") && t.length() > 1 && !t.equals("[")) {
                List<Float> vals = new ArrayList<>();
                Matcher m = NUMBER.matcher(t);
                while (m.find()) vals.add(Float.parseFloat(m.group()));
                float[] r = new float[vals.size()];
                for (int i = 0; i < r.length; i++) r[i] = vals.get(i);
                rows.add(r);
            }
        }
        return out;
    }

    private EvalCallbackDump() {}
}
