package dev.tiller.steering.train;

import dev.tiller.engine.model.GGUFModelConfig;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Shared;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ConcurrentHashMap;

/** Small models for training tests: random presets written once per JVM, and the shared stories260K. */
final class TestModels {
    static final Path SHARED = Shared.DIR;
    private static final ConcurrentHashMap<String, Path> WRITTEN = new ConcurrentHashMap<>();

    record Loaded(GGUFFile file, ModelConfig config, ModelWeights weights, DiffTransformer diff) implements AutoCloseable {
        @Override
        public void close() {
            file.close();
        }
    }

    static Path synthetic(String preset, GGMLType type) {
        return WRITTEN.computeIfAbsent(preset + "-" + type, key -> {
            try {
                Path dir = Files.createTempDirectory("tiller-train-test");
                dir.toFile().deleteOnExit();
                Path p = dir.resolve(key + ".gguf");
                SyntheticModel.preset(preset).withSeed(3).writeGguf(p, type);
                p.toFile().deleteOnExit();
                return p;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    static Path stories() {
        return SHARED.resolve("models/stories260K.gguf");
    }

    static Loaded load(Path p) {
        GGUFFile f = GGUFFile.open(p);
        ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
        ModelWeights w = ModelWeights.bind(c, f);
        return new Loaded(f, c, w, new DiffTransformer(c, w));
    }

    private TestModels() {}
}
