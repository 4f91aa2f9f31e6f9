package dev.tiller.steering;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.model.Batch;
import dev.tiller.testsupport.Logits;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Algebraic checks of how vectors are applied: at the steered point the activation is exactly the unsteered one plus
 * scale·direction on the chosen rows and unchanged elsewhere; norm-preserving rows keep their norm.
 */
class SteeringBehaviourTest {
    static final Path SHARED = Shared.DIR;
    static final String POINT = "blocks.2.hook_resid_post";

    @Test
    void positionsSelectPromptOrGeneratedRows() {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            float[] d = new float[64];
            for (int i = 0; i < 64; i++) d[i] = (i % 7) - 3;
            int[] prompt = m.tokenizer().encode("The cat sat", true, true);
            float[][] base = run(m, null, prompt);
            for (Positions p : new Positions[]{Positions.prompt(), Positions.generated(), Positions.generatedWindow(-1, 1), Positions.explicit(0, 2)}) {
                SteeringVector v = SteeringVector.of("t", HookSite.RESID_POST, Map.of(2, d), "test").withPositions(p);
                float[][] got = run(m, new Steering(m.config()).add(v, 0.5f), prompt);
                for (int pos = 0; pos < got.length; pos++) {
                    boolean steered = p.includes(pos, prompt.length);
                    for (int i = 0; i < 64; i++) {
                        float want = base[pos][i] + (steered ? 0.5f * d[i] : 0f);
                        assertEquals(want, got[pos][i], 1e-5f, p + " position " + pos + " dim " + i);
                    }
                }
            }
        }
    }

    @Test
    void normPreservingKeepsTheNorm() {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            float[] d = new float[64];
            d[5] = 10f;
            int[] prompt = m.tokenizer().encode("The cat sat", true, true);
            float[][] base = run(m, null, prompt);
            SteeringVector v = SteeringVector.of("t", HookSite.RESID_POST, Map.of(2, d), "test").withNormPreserving(true);
            float[][] got = run(m, new Steering(m.config()).add(v, 1f), prompt);
            for (int pos = 0; pos < got.length; pos++) {
                assertEquals(RowOps.norm(base[pos], 0, 64), RowOps.norm(got[pos], 0, 64), 1e-4, "norm at position " + pos);
                assertNotEquals(base[pos][5], got[pos][5]);
            }
        }
    }

    @Test
    void eachSequenceOfABatchGetsItsOwnVector() {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            float[] d = new float[64];
            d[0] = 1f;
            Session a = m.newSession(), b = m.newSession();
            int tok = m.tokenizer().bosId();
            Hooks hooks = new Hooks(m.config().layers());
            SteeringVector v = SteeringVector.of("t", HookSite.RESID_POST, Map.of(2, d), "test");
            new Steering(m.config()).add(v, 3f, seq -> seq == 1).add(v, -2f, seq -> seq == 7).install(hooks);
            ActivationCapture cap = ActivationCapture.install(hooks, POINT);
            Batch batch = new Batch(2).add(tok, 0, a.kvCache(), 1, true).add(tok, 0, b.kvCache(), 7, true);
            m.forwardPass().forward(batch, hooks, new float[2 * m.config().vocabSize()]);
            float[][] rows = cap.rows(POINT);
            // same token at the same position: the rows differ only by the two vectors, 3 − (−2) = 5 along dim 0
            assertEquals(5f, rows[0][0] - rows[1][0], 1e-5f);
            for (int i = 1; i < 64; i++) assertEquals(rows[0][i], rows[1][i], 1e-6f);
            assertEquals(1, cap.rows(POINT, 7).length);
        }
    }

    /** The activations at POINT for the prompt then 3 decode steps of fixed tokens, after any steering. */
    static float[][] run(Model m, Steering steering, int[] prompt) {
        Session s = m.newSession();
        Hooks h = s.installHooks();
        if (steering != null) steering.install(h);
        ActivationCapture cap = ActivationCapture.install(h, POINT);
        s.prefill(prompt);
        for (int i = 0; i < 3; i++) s.decode(300 + i);
        return cap.rows(POINT);
    }
}
