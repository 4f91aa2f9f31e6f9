package dev.tiller.steering.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * JSONL training rows: {@code prompt} + {@code completion}, or GSM8K-style {@code question} + {@code answer} (the
 * prompt is the template with {question}; the completion is " " + answer; the label is the number after ####).
 * Rows with only a prompt/question serve the label-free objectives.
 */
public final class TrainData {
    public record Row(int index, String prompt, String completion, String label, String question) {}

    public static List<Row> read(Path file, String template, int limit) {
        if (!Files.exists(file)) throw new IllegalArgumentException(file + ": no such file");
        List<Row> rows = new ArrayList<>();
        ObjectMapper om = new ObjectMapper();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size() && (limit <= 0 || rows.size() < limit); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) continue;
            JsonNode n;
            try {
                n = om.readTree(line);
            } catch (IOException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": not a JSON object: " + e.getMessage());
            }
            String prompt, completion = null, label = null, question = null;
            if (n.hasNonNull("prompt")) {
                prompt = n.get("prompt").asText();
                if (n.hasNonNull("completion")) completion = n.get("completion").asText();
            } else if (n.hasNonNull("question")) {
                question = n.get("question").asText();
                prompt = template.replace("{question}", question);
                if (n.hasNonNull("answer")) {
                    completion = " " + n.get("answer").asText();
                    label = Rewards.finalAnswer(completion);
                }
            } else {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": a row needs 'prompt' (+ 'completion') or 'question' (+ 'answer')");
            }
            if (n.hasNonNull("label")) label = n.get("label").asText();
            rows.add(new Row(rows.size(), prompt, completion, label, question));
        }
        if (rows.isEmpty()) throw new IllegalArgumentException(file + ": no training rows");
        return rows;
    }

    private TrainData() {}
}
