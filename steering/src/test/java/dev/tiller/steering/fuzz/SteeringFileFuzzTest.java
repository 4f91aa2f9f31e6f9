package dev.tiller.steering.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.loader.fuzz.JazzerCorpus;
import dev.tiller.loader.fuzz.SeededFuzzer;
import dev.tiller.loader.fuzz.Seeds;
import dev.tiller.steering.Positions;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.file.ModelFingerprint;
import dev.tiller.steering.file.Provenance;
import dev.tiller.steering.file.SteeringFile;
import dev.tiller.steering.file.SteeringFileException;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the Protobuf steering-file reader ({@code .steer}): any bytes give a SteeringFile or a SteeringFileException;
 * a file that parses is then checked against stories260K (which must also end in SteeringFileException at worst).
 */
class SteeringFileFuzzTest {
    private static Model stories;

    static Model stories() {
        if (stories == null) stories = Model.load(Seeds.shared().resolve("models/stories260K.gguf"));
        return stories;
    }

    static Map<Integer, float[]> dirs(int width, int... layers) {
        Map<Integer, float[]> m = new TreeMap<>();
        Random r = new Random(layers.length);
        for (int l : layers) {
            float[] d = new float[width];
            for (int i = 0; i < width; i++) d[i] = (float) r.nextGaussian();
            m.put(l, d);
        }
        return m;
    }

    static List<byte[]> seeds() {
        ModelFingerprint fp = ModelFingerprint.of(stories());
        List<byte[]> out = new ArrayList<>();
        SteeringVector v = new SteeringVector("happy", HookSite.MLP_OUT, dirs(64, 1, 3), -0.75f, "pca_diff", Positions.generatedWindow(-1, 4), true);
        SteeringVector w = SteeringVector.of("plain", HookSite.RESID_POST, dirs(64, 2), "mean").withPositions(Positions.explicit(5, 2, 9));
        Provenance p = new Provenance("tiller fuzz", "2025-01-01T00:00:00Z", "stories260K.gguf", "seed",
                Map.of("method", "pca_diff"), Map.of("cosine", 0.995));
        out.add(new SteeringFile(fp, List.of(v, w), p).toBytes());
        out.add(new SteeringFile(fp, List.of(SteeringVector.of("w", HookSite.RESID_PRE, dirs(8, 0), "mean").withPositions(Positions.window(0, 3))), null).toBytes());
        return out;
    }

    static void target(byte[] data) {
        try {
            SteeringFile f = SteeringFile.fromBytes(data, "fuzz.steer");
            f.checkModel(stories(), "fuzz.steer");
        } catch (SteeringFileException expected) {
            // a clear rejection
        }
    }

    @BeforeAll
    static void seedJazzer() {
        JazzerCorpus.seed(SteeringFileFuzzTest.class, "steer", seeds());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void steer(byte[] data) {
        target(data);
    }

    /** Finding (seeded .steer fuzzer): a vector of the wrong width escaped checkModel as a plain IllegalArgumentException. */
    @Test
    void aVectorOfTheWrongWidthIsASteeringFileException() {
        byte[] wrongWidth = seeds().get(1); // 8 wide, the model is 64 wide
        SteeringFile f = SteeringFile.fromBytes(wrongWidth, "w.steer");
        SteeringFileException e = org.junit.jupiter.api.Assertions.assertThrows(SteeringFileException.class, () -> f.checkModel(stories(), "w.steer"));
        assertTrue(e.getMessage().startsWith("w.steer: ") && e.getMessage().contains("width 8"), e.getMessage());
    }

    /** Limit: an oversized .steer file is refused before it is read into memory (a sparse file: no disk used). */
    @Test
    void anOversizedFileIsRefusedBeforeReading(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        java.nio.file.Path big = tmp.resolve("big.steer");
        try (var f = new java.io.RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(SteeringFile.MAX_FILE_BYTES + 1);
        }
        SteeringFileException e = org.junit.jupiter.api.Assertions.assertThrows(SteeringFileException.class, () -> SteeringFile.read(big));
        assertTrue(e.getMessage().contains("over the limit"), e.getMessage());
    }

    @Slow
    @Test
    void seededMutations() {
        List<byte[]> seeds = seeds();
        long execs = new SeededFuzzer("steer", seeds, false, SteeringFileFuzzTest::target).run(8, 20_000, Duration.ofSeconds(5));
        assertTrue(execs > seeds.size());
    }
}
