package dev.tiller.testsupport;

import java.nio.file.Path;

/**
 * The shared data folder (models, tokenizers and llama.cpp reference outputs) that tests read and never copy into the
 * repository. Maven passes it as the {@code tiller.shared} system property; a test run from a module folder without it
 * finds {@code ../shared}.
 */
public final class Shared {
    public static final Path DIR = Path.of(System.getProperty("tiller.shared", "../shared"));

    /** A path below the shared folder, e.g. {@code "tokenizers/qwen2.5"}. */
    public static Path resolve(String relative) {
        return DIR.resolve(relative);
    }

    /** A model file in {@code models/}. */
    public static Path model(String fileName) {
        return DIR.resolve("models").resolve(fileName);
    }

    /** The 260K-parameter TinyStories llama that most tests run: small, and with llama.cpp references. */
    public static Path stories260K() {
        return model("stories260K.gguf");
    }

    /** A reference output in {@code reference/MODEL/}, e.g. {@code reference("stories260K", "tom.json")}. */
    public static Path reference(String model, String fileName) {
        return DIR.resolve("reference").resolve(model).resolve(fileName);
    }

    private Shared() {}
}
