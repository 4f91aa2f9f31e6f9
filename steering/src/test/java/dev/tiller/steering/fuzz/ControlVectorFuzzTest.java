package dev.tiller.steering.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.fuzz.FuzzTargets;
import dev.tiller.loader.fuzz.JazzerCorpus;
import dev.tiller.loader.fuzz.SeededFuzzer;
import dev.tiller.loader.fuzz.Seeds;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fuzzes llama.cpp's control-vector GGUF reader: any bytes give a ControlVector or a ModelFormatException. */
class ControlVectorFuzzTest {

    static List<byte[]> seeds() {
        List<byte[]> out = new ArrayList<>();
        Path ref = Seeds.shared().resolve("reference/stories260K");
        for (String f : new String[]{"happy_mean.gguf", "happy_pca.gguf"}) {
            try {
                if (Files.exists(ref.resolve(f))) out.add(Files.readAllBytes(ref.resolve(f)));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        // synthetic: F32 and F16 directions, a model hint, layer_count
        GGUFWriter w = new GGUFWriter().putString("general.architecture", "controlvector")
                .putString("controlvector.model_hint", "llama").putInt32("controlvector.layer_count", 3);
        ByteBuffer f32 = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 8; i++) f32.putFloat(i * 0.25f - 1);
        w.addTensor("direction.1", GGMLType.F32, new long[]{8}, f32.array());
        w.addTensor("direction.2", GGMLType.F16, new long[]{8}, new byte[16]);
        out.add(write(w));
        return out;
    }

    static byte[] write(GGUFWriter w) {
        try {
            Path p = Files.createTempFile(FuzzTargets.tmp(), "cv", ".gguf");
            try {
                w.write(p);
                return Files.readAllBytes(p);
            } finally {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The target: write the bytes to a file (the reader takes a path) and read it as a control vector. */
    static void target(byte[] data) {
        FuzzTargets.onTempFile("fuzz-cv", ".gguf", data, p -> {
            try {
                ControlVectorFile.read(p).toString();
            } catch (ModelFormatException expected) {
                // a clear rejection
            }
        });
    }

    @BeforeAll
    static void seedJazzer() {
        JazzerCorpus.seed(ControlVectorFuzzTest.class, "controlVector", seeds());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void controlVector(byte[] data) {
        target(data);
    }

    @Slow
    @Test
    void seededMutations() {
        List<byte[]> seeds = seeds();
        assertTrue(seeds.size() >= 3, "the shared control vectors give seeds");
        long execs = new SeededFuzzer("control-vector", seeds, false, ControlVectorFuzzTest::target).run(6, 5000, Duration.ofSeconds(5));
        assertTrue(execs > seeds.size());
    }
}
