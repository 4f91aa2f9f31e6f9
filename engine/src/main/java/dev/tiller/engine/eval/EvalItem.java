package dev.tiller.engine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** One GSM8K-format item: {@code question}, {@code answer} ending {@code #### N}. */
public record EvalItem(int index, String question, String answer, String label) {

    /** Reads up to {@code limit} items (all when {@code limit <= 0}). Lines without a question or a label are skipped with a warning. */
    public static List<EvalItem> read(Path path, int limit, java.util.function.Consumer<String> warnings) {
        ObjectMapper m = new ObjectMapper();
        List<EvalItem> items = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(path, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = in.readLine()) != null && (limit <= 0 || items.size() < limit)) {
                n++;
                if (line.isBlank()) continue;
                try {
                    JsonNode j = m.readTree(line);
                    String q = j.path("question").asText(null), a = j.path("answer").asText(null);
                    var label = a == null ? java.util.Optional.<String>empty() : AnswerExtractor.label(a);
                    if (q == null || label.isEmpty()) {
                        warnings.accept("line " + n + ": needs 'question' and an 'answer' with '#### N'; skipped");
                        continue;
                    }
                    items.add(new EvalItem(items.size(), q, a, label.get()));
                } catch (IOException e) {
                    warnings.accept("line " + n + ": malformed JSON; skipped");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
        return items;
    }
}
