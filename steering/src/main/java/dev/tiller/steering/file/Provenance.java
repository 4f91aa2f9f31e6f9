package dev.tiller.steering.file;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where a steering file came from: the tool, when, on which model file, and free-form maps of the training (or
 * extraction) configuration and of measured metrics.
 */
public record Provenance(String tool, String createdUtc, String sourceModel, String description,
                         Map<String, String> trainingConfig, Map<String, Double> metrics) {

    public Provenance {
        tool = tool == null ? "" : tool;
        createdUtc = createdUtc == null ? "" : createdUtc;
        sourceModel = sourceModel == null ? "" : sourceModel;
        description = description == null ? "" : description;
        trainingConfig = Collections.unmodifiableMap(new LinkedHashMap<>(trainingConfig == null ? Map.of() : trainingConfig));
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(metrics == null ? Map.of() : metrics));
    }

    /** Stamped now, by {@code tool}. */
    public static Provenance now(String tool, String sourceModel, String description, Map<String, String> config, Map<String, Double> metrics) {
        return new Provenance(tool, Instant.now().toString(), sourceModel, description, config, metrics);
    }

    public static Provenance empty() {
        return new Provenance("", "", "", "", Map.of(), Map.of());
    }
}
