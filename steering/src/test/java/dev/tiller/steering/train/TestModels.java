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

    /**
     * A llama 256 wide (the tiny presets' 64 columns cannot hold 256-weight super-blocks, so their "Q4_K" files are
     * Q5_0): with llama.cpp's K-quant mixes every matrix really is Q4_K / Q5_K or Q6_K.
     */
    static Path wideLlama(dev.tiller.models.synthetic.QuantMix mix) {
        return WRITTEN.computeIfAbsent("wide-llama-" + mix, key -> {
            try {
                Path dir = Files.createTempDirectory("tiller-train-test");
                dir.toFile().deleteOnExit();
                Path p = dir.resolve(key + ".gguf");
                var shape = new dev.tiller.models.synthetic.ModelShape("wide-llama", dev.tiller.models.arch.Architectures.LLAMA, 256, 2, 4, 2, 64,
                        512, 384, 512, 10000.0, 1e-5, false, null, null, 1, 2);
                SyntheticModel.of(shape).withSeed(3).writeGguf(p, mix, null);
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
