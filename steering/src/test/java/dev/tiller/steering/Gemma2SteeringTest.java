package dev.tiller.steering;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.steering.train.DiffTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Steering a gemma2 model: a steering vector lands where a raw vector add at the same hook points does (which the
 * engine's Gemma2Test checks against a float64 reference); training, whose float64 forward has no gemma2 block yet,
 * refuses the model by name.
 */
class Gemma2SteeringTest {
    @TempDir
    Path tmp;

    @Test
    void steeringVectorActsAtItsHookPoints() {
        Path p = tmp.resolve("gemma2.gguf");
        SyntheticModel.preset("tiny-gemma2").withSeed(2).writeGguf(p, GGMLType.F32);
        int[] tokens = {1, 40, 41, 42, 43, 44, 45};
        try (Model m = Model.load(p)) {
            int dim = m.config().dim();
            float[] d0 = new float[dim], d2 = new float[dim];
            for (int i = 0; i < dim; i++) {
                d0[i] = (float) Math.cos(i);
                d2[i] = (float) Math.sin(3 * i);
            }
            SteeringVector v = SteeringVector.of("test", HookSite.RESID_POST, Map.of(0, d0, 2, d2), "test");
            Session steered = m.newSession();
            new Steering(m.config()).add(v, 1.5f).install(steered);
            float[] got = steered.prefillAllLogits(tokens);

            Session raw = m.newSession();
            raw.installHooks().add(new HookPoint(HookSite.RESID_POST, 0), new RowVectorAdd(d0, 1.5f))
                    .add(new HookPoint(HookSite.RESID_POST, 2), new RowVectorAdd(d2, 1.5f));
            float[] want = raw.prefillAllLogits(tokens);
            float[] plain = m.newSession().prefillAllLogits(tokens);
            double moved = 0;
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-6f, "logit " + i);
                moved = Math.max(moved, Math.abs(want[i] - plain[i]));
            }
            assertTrue(moved > 1e-3, "steering changed nothing");
        }
    }

    @Test
    void trainingRefusesGemma2ByName() {
        Path p = tmp.resolve("gemma2.gguf");
        SyntheticModel.preset("tiny-gemma2").withSeed(2).writeGguf(p, GGMLType.F32);
        try (Model m = Model.load(p)) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> new DiffTransformer(m.config(), m.weights()));
            assertTrue(e.getMessage().contains("gemma2"), e.getMessage());
        }
    }
}
