package dev.tiller.tokenizer;

import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.testsupport.Shared;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Shared test files (../shared) and a per-JVM cache of tokenizers built from them. */
final class TestData {
    static final Path SHARED = Shared.DIR;
    static final Path VOCABS = SHARED.resolve("tokenizers/llama.cpp-vocab");
    private static final Map<Path, Tokenizer> CACHE = new ConcurrentHashMap<>();

    private TestData() {
    }

    static Tokenizer gguf(Path file) {
        return CACHE.computeIfAbsent(file, f -> {
            try (GGUFFile g = GGUFFile.open(f)) {
                return Tokenizers.fromGGUF(g.metadata());
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new RuntimeException(e);
            }
        });
    }

    static Tokenizer huggingFace(Path dir) {
        return CACHE.computeIfAbsent(dir, Tokenizers::fromHuggingFace);
    }

    /** The tokenizer for a llama.cpp conformance vocab name, or null when neither a GGUF nor HF files are here. */
    static Tokenizer forVocab(String name) {
        Path gguf = VOCABS.resolve("ggml-vocab-" + name + ".gguf");
        if (Files.exists(gguf)) return gguf(gguf);
        return switch (name) {
            // DeepSeek-R1-Distill-Qwen keeps Qwen2.5's byte-level vocabulary, merges and pre-tokenizer
            case "qwen2", "deepseek-r1-qwen" -> huggingFace(SHARED.resolve("tokenizers/qwen2.5"));
            case "smollm" -> huggingFace(SHARED.resolve("tokenizers/smollm2"));
            default -> null;
        };
    }
}
