package dev.tiller.steering.file;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.Positions;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** .steer files round-trip, and every kind of misfit is refused with a message that names it. */
class SteeringFileTest {
    static final Path SHARED = Shared.DIR;
    static final Path STORIES = SHARED.resolve("models/stories260K.gguf");
    static final Path ARITH = SHARED.resolve("models/arith-mini.gguf");
    static final Path HAPPY = SHARED.resolve("reference/stories260K/happy_mean.gguf");

    @TempDir
    Path tmp;

    @Test
    void controlVectorExportReimportsBitIdentically() throws Exception {
        ControlVector cv = ControlVectorFile.read(HAPPY);
        Path out = tmp.resolve("again.gguf");
        ControlVectorFile.write(cv, out);
        ControlVector again = ControlVectorFile.read(out);
        assertEquals(cv.modelHint(), again.modelHint());
        assertEquals(cv.directions().keySet(), again.directions().keySet());
        assertFalse(again.directions().containsKey(0), "llama.cpp files never hold direction.0");
        for (int l : cv.directions().keySet()) {
            float[] a = cv.directions().get(l), b = again.directions().get(l);
            for (int i = 0; i < a.length; i++) assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), "direction." + l + "[" + i + "]");
        }
        // the tensor data section is byte for byte llama.cpp's (same header layout, same alignment)
        byte[] orig = Files.readAllBytes(HAPPY), mine = Files.readAllBytes(out);
        assertEquals(orig.length, mine.length, "file size");
        int dataBytes = 4 * 64 * 4;
        assertArrayEquals(java.util.Arrays.copyOfRange(orig, orig.length - dataBytes, orig.length),
                java.util.Arrays.copyOfRange(mine, mine.length - dataBytes, mine.length));
    }

    @Test
    void direction0CannotBeExportedToLlamaCpp() {
        ControlVector cv = new ControlVector("llama", 4, Map.of(0, new float[4], 1, new float[4]));
        var e = assertThrows(IllegalArgumentException.class, () -> ControlVectorFile.write(cv, tmp.resolve("x.gguf")));
        assertTrue(e.getMessage().contains("block 0"), e.getMessage());
    }

    @Test
    void steerFileRoundTripsEveryField() {
        try (Model m = Model.load(STORIES)) {
            SteeringVector v = new SteeringVector("happy", HookSite.MLP_OUT, dirs(64, 1, 3), -0.75f, "pca_diff",
                    Positions.generatedWindow(-1, 4), true);
            SteeringVector w = SteeringVector.of("plain", HookSite.RESID_POST, dirs(64, 2), "mean").withPositions(Positions.explicit(5, 2, 9));
            Provenance p = new Provenance("tiller test", "2025-01-01T00:00:00Z", "stories260K.gguf", "a test",
                    Map.of("method", "pca_diff", "layers", "1-3"), Map.of("cosine", 0.995, "loss", 1.25));
            SteeringFile f = new SteeringFile(ModelFingerprint.of(m), List.of(v, w), p);
            Path out = tmp.resolve("v.steer");
            f.write(out);
            SteeringFile g = SteeringFile.read(out);
            assertEquals(f.model(), g.model());
            assertEquals(p, g.provenance());
            assertEquals(2, g.vectors().size());
            SteeringVector v2 = g.vectors().get(0);
            assertEquals(HookSite.MLP_OUT, v2.site());
            assertEquals(-0.75f, v2.scale());
            assertEquals("pca_diff", v2.method());
            assertEquals(Positions.generatedWindow(-1, 4), v2.positions());
            assertTrue(v2.normPreserving());
            assertArrayEquals(v.directions().get(3), v2.directions().get(3));
            assertEquals(Positions.explicit(2, 5, 9), g.vectors().get(1).positions());
            assertEquals(1f, g.vectors().get(1).scale());
            g.checkModel(m, "v.steer"); // its own model passes
        }
    }

    @Test
    void aFileForAnotherModelIsRefused() {
        ModelFingerprint stories;
        try (Model m = Model.load(STORIES)) {
            stories = ModelFingerprint.of(m);
        }
        SteeringFile f = new SteeringFile(stories, List.of(SteeringVector.of("v", HookSite.RESID_POST, dirs(64, 1), "mean")), null);
        try (Model arith = Model.load(ARITH)) {
            var e = assertThrows(SteeringFileException.class, () -> f.checkModel(arith, "v.steer"));
            assertTrue(e.getMessage().contains("another model") && e.getMessage().contains("n_embd 64 vs the model's 128"), e.getMessage());
        }
        // same shapes, different weights: only the tensor digests tell them apart
        Map<String, String> digests = new TreeMap<>(stories.tensorDigests());
        digests.put("output_norm.weight", "0".repeat(64));
        ModelFingerprint twin = new ModelFingerprint(stories.architecture(), 64, stories.blockCount(), stories.vocabSize(), stories.headCount(),
                stories.headCountKv(), stories.feedForwardLength(), digests);
        SteeringFile g = new SteeringFile(twin, f.vectors(), null);
        try (Model m = Model.load(STORIES)) {
            var e = assertThrows(SteeringFileException.class, () -> g.checkModel(m, "twin.steer"));
            assertTrue(e.getMessage().contains("output_norm.weight"), e.getMessage());
        }
    }

    @Test
    void garbageAndGgufFilesAreNotSteeringFiles() throws Exception {
        var e = assertThrows(SteeringFileException.class, () -> SteeringFile.read(HAPPY));
        assertTrue(e.getMessage().contains("happy_mean.gguf"), e.getMessage());
        Path missing = tmp.resolve("none.steer");
        assertTrue(assertThrows(SteeringFileException.class, () -> SteeringFile.read(missing)).getMessage().contains("no such file"));
    }

    @Test
    void wrongWidthLayerOutOfRangeAndUnknownHookNameAreClearErrors() {
        try (Model m = Model.load(STORIES)) {
            Steering s = new Steering(m.config());
            var wide = SteeringVector.of("wide", HookSite.RESID_POST, dirs(128, 1), "mean");
            var e1 = assertThrows(IllegalArgumentException.class, () -> s.add(wide, 1f));
            assertTrue(e1.getMessage().contains("width 128") && e1.getMessage().contains("n_embd is 64"), e1.getMessage());
            var deep = SteeringVector.of("deep", HookSite.RESID_POST, dirs(64, 7), "mean");
            var e2 = assertThrows(IllegalArgumentException.class, () -> s.add(deep, 1f));
            assertTrue(e2.getMessage().contains("layer 7") && e2.getMessage().contains("5 blocks"), e2.getMessage());
        }
        var e3 = assertThrows(IllegalArgumentException.class, () -> HookPoint.parse("blocks.1.hook_resid_middle"));
        assertTrue(e3.getMessage().contains("unknown hook point 'blocks.1.hook_resid_middle'"), e3.getMessage());
        var e4 = assertThrows(IllegalArgumentException.class, () -> SteeringVector.of("x", HookSite.LOGITS, dirs(4, 1), "mean"));
        assertTrue(e4.getMessage().contains("not a per-block hook site"), e4.getMessage());
        var e5 = assertThrows(IllegalArgumentException.class, () -> new SteeringVector("ragged", HookSite.RESID_POST,
                new TreeMap<>(Map.of(1, new float[4], 2, new float[5])), 1f, "", null, false));
        assertTrue(e5.getMessage().contains("layer 2 has 5 values"), e5.getMessage());
    }

    static Map<Integer, float[]> dirs(int width, int... layers) {
        Map<Integer, float[]> m = new TreeMap<>();
        java.util.Random r = new java.util.Random(layers.length);
        for (int l : layers) {
            float[] d = new float[width];
            for (int i = 0; i < width; i++) d[i] = (float) r.nextGaussian();
            m.put(l, d);
        }
        return m;
    }
}
