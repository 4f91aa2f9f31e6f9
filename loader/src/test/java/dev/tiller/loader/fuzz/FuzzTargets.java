package dev.tiller.loader.fuzz;

import dev.tiller.loader.MappedFile;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.hf.HFConfig;
import dev.tiller.loader.safetensors.SafetensorsFile;
import dev.tiller.tokenizer.StreamingDecoder;
import dev.tiller.tokenizer.Tokenizer;
import dev.tiller.tokenizer.Tokenizers;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The fuzz targets of the loader. Each parses one input and returns normally or throws {@link ModelFormatException};
 * anything else escaping (IndexOutOfBounds, OutOfMemoryError, NullPointerException, ...) is a finding. What parses is
 * then used: every tensor slice is read at its first and last byte (a slice outside the file would fault), and a
 * tokenizer built from fuzzed data must encode and decode text without failing.
 */
public final class FuzzTargets {
    /** The files a Hugging Face tokenizer folder may hold; other names in a multi-file input are ignored. */
    public static final Set<String> HF_FILES = Set.of("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
            "config.json", "generation_config.json");
    private static final String[] TEXTS = {"Hello world", " <|im_end|>\n\u00e9t\u00e9 \u4e2d\u6587 12345 don't  x", "", "\u2581\u2581 \t\n<s></s>",
            "\ud83d\ude00 \u0000 a\u0301"};

    private FuzzTargets() {
    }

    public static void gguf(byte[] data) {
        MappedFile mf = MappedFile.ofBytes(data, Path.of("fuzz.gguf"));
        GGUFFile f;
        try {
            f = GGUFFile.open(mf);
        } catch (ModelFormatException expected) {
            mf.close();
            return;
        }
        try (f) {
            for (GGUFValue v : f.metadata().asMap().values()) v.toString();
            touch(f.tensors().values());
            if (f.metadata().has("tokenizer.ggml.model")) {
                try {
                    exercise(Tokenizers.fromGGUF(f.metadata()));
                } catch (ModelFormatException expected) {
                    // a clear rejection
                }
            }
        }
    }

    public static void safetensors(byte[] data) {
        MappedFile mf = MappedFile.ofBytes(data, Path.of("fuzz.safetensors"));
        SafetensorsFile f;
        try {
            f = SafetensorsFile.open(mf);
        } catch (ModelFormatException expected) {
            mf.close();
            return;
        }
        try (f) {
            f.metadata().size();
            touch(f.tensors().values());
        }
    }

    /** A Hugging Face tokenizer folder given as a multi-file input ({@link Seeds#files}); config.json also as an HFConfig. */
    public static void hfTokenizer(byte[] data) {
        Map<String, byte[]> files = Seeds.splitFiles(data);
        Path dir = null;
        try {
            dir = Files.createTempDirectory(tmp(), "fuzz-tok");
            for (Map.Entry<String, byte[]> e : files.entrySet()) {
                if (HF_FILES.contains(e.getKey())) Files.write(dir.resolve(e.getKey()), e.getValue());
            }
            if (files.containsKey("config.json")) {
                try {
                    HFConfig c = HFConfig.parse(new String(files.get("config.json"), StandardCharsets.UTF_8), "config.json");
                    c.getInt("vocab_size", 0);
                    c.getObject("rope_scaling");
                } catch (ModelFormatException expected) {
                    // a clear rejection
                }
            }
            Tokenizer t;
            try {
                t = Tokenizers.fromHuggingFace(dir);
            } catch (ModelFormatException expected) {
                return;
            }
            exercise(t);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (dir != null) deleteTree(dir);
        }
    }

    /** A tokenizer that loaded must work on any text: encode, decode, stream-decode, look up every id it returns. */
    static void exercise(Tokenizer t) {
        int n = t.vocabSize();
        for (String text : TEXTS) {
            for (boolean special : new boolean[]{false, true}) {
                int[] ids = t.encode(text, special, special);
                for (int id : ids) {
                    if (id < 0 || id >= n) throw new AssertionError("encode returned id " + id + " outside [0, " + n + ")");
                    t.tokenText(id);
                    t.tokenBytes(id);
                }
                t.decode(ids);
                t.decode(ids, true);
                StreamingDecoder d = t.newStreamingDecoder();
                for (int id : ids) d.accept(id);
                d.flush();
            }
        }
        for (int id = 0; id < Math.min(n, 64); id++) {
            t.tokenText(id);
            t.isSpecial(id);
            t.isEndOfGeneration(id);
        }
        t.decode(new int[]{0, n - 1});
    }

    static void touch(Iterable<Tensor> tensors) {
        for (Tensor t : tensors) {
            long n = t.data().byteSize();
            if (n > 0) {
                t.data().get(ValueLayout.JAVA_BYTE, 0);
                t.data().get(ValueLayout.JAVA_BYTE, n - 1);
            }
            t.elementCount();
            t.rows();
        }
    }

    /** A fuzz target whose reader takes a path. */
    @FunctionalInterface
    public interface FileTarget {
        void run(Path file) throws IOException;
    }

    /** Writes the fuzzed bytes to a fresh temporary file, runs the target on it, and deletes the file whatever happens. */
    public static void onTempFile(String prefix, String suffix, byte[] data, FileTarget target) {
        Path p = null;
        try {
            p = Files.createTempFile(tmp(), prefix, suffix);
            Files.write(p, data);
            target.run(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (p != null) deleteTree(p);
        }
    }

    public static Path tmp() {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
    }

    public static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
