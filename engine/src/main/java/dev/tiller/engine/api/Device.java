package dev.tiller.engine.api;

import java.util.Locale;

/** Where a model's forward pass runs: the CPU (the default) or a CUDA GPU (weights and KV caches on the device). */
public enum Device {
    CPU, CUDA;

    /** Parses {@code cpu} / {@code cuda} (any case), naming the accepted values otherwise. */
    public static Device parse(String s) {
        if (s == null) return CPU;
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "cpu" -> CPU;
            case "cuda", "gpu" -> CUDA;
            default -> throw new IllegalArgumentException("unknown device '" + s + "': use cpu or cuda");
        };
    }
}
