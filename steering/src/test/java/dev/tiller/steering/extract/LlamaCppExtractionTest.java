package dev.tiller.steering.extract;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Following cvector-generator's recipe on its own prompt files reproduces the control vectors it wrote. */
class LlamaCppExtractionTest {
    static final Path SHARED = Shared.DIR;
    static final Path REF = SHARED.resolve("reference/stories260K");

    @Test
    void meanMatchesHappyMeanDirectionByDirection() throws Exception {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            SteeringVector v = extract(m, ExtractionMethod.MEAN);
            ControlVector ref = ControlVectorFile.read(REF.resolve("happy_mean.gguf"));
            assertEquals(ref.directions().keySet(), v.directions().keySet(), "direction.N indices");
            for (int l : ref.directions().keySet()) {
                double c = cosine(ref.directions().get(l), v.directions().get(l));
                System.out.printf("happy_mean direction.%d cosine %.6f%n", l, c);
                assertTrue(c >= 0.99, "direction." + l + " cosine " + c);
            }
        }
    }

    @Test
    void pcaMatchesHappyPcaUpToSign() throws Exception {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            SteeringVector v = extract(m, ExtractionMethod.PCA_DIFF);
            ControlVector ref = ControlVectorFile.read(REF.resolve("happy_pca.gguf"));
            int close = 0;
            for (int l : ref.directions().keySet()) {
                double c = cosine(ref.directions().get(l), v.directions().get(l));
                System.out.printf("happy_pca direction.%d cosine %.6f%n", l, c);
                if (Math.abs(c) >= 0.95) close++;
                // llama.cpp's power iteration stops after a fixed budget and may hand back a node the graph allocator
                // reused, so one of its directions is off; ours must be at least as principal (Rayleigh quotient of
                // the differences' DᵀD), which is the quantity both claim to maximise
                assertTrue(rayleigh(m, l, v.directions().get(l)) >= rayleigh(m, l, ref.directions().get(l)) - 1e-3,
                        "direction." + l + ": llama.cpp's direction explains more variance than ours");
            }
            assertTrue(close >= 3, "only " + close + " of 4 directions within |cosine| 0.95 of llama.cpp's");
        }
    }

    @Test
    void defaultRecipeMovesTowardThePositives() throws Exception {
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            List<String> pos = Files.readAllLines(REF.resolve("pos.txt")), neg = Files.readAllLines(REF.resolve("neg.txt"));
            for (ExtractionMethod method : List.of(ExtractionMethod.MEAN, ExtractionMethod.PCA_CENTER)) {
                var o = new Extractor.Options(method, HookSite.RESID_POST, 1, 4, Extractor.TokenAggregation.MEAN, false, false);
                SteeringVector v = new Extractor(m).extract(pos, neg, o);
                // algebraic check of the sign convention: the vector agrees with llama.cpp's mean direction one block later
                ControlVector ref = ControlVectorFile.read(REF.resolve("happy_mean.gguf"));
                double c = cosine(ref.directions().get(4), v.directions().get(3));
                assertTrue(c > 0.5, method + ": cosine with llama.cpp's direction.4 is " + c);
            }
        }
    }

    /** Σ (d·u)² / |u|² over llama.cpp's difference rows measured for direction.l (block l−1). */
    static double rayleigh(Model m, int l, float[] u) throws Exception {
        List<String> pos = Files.readAllLines(REF.resolve("pos.txt")), neg = Files.readAllLines(REF.resolve("neg.txt"));
        var tok = m.tokenizer();
        int[] sp = tok.encode(" ", false, true);
        double uu = 0, s = 0;
        for (float x : u) uu += x * x;
        for (int i = 0; i < pos.size(); i++) {
            int[] p = tok.encode(pos.get(i), true, true), q = tok.encode(neg.get(i), true, true);
            int len = Math.max(p.length, q.length);
            int[] pp = java.util.Arrays.copyOf(p, len), qq = java.util.Arrays.copyOf(q, len);
            for (int k = p.length; k < len; k++) pp[k] = sp[sp.length - 1];
            for (int k = q.length; k < len; k++) qq[k] = sp[sp.length - 1];
            float[][] a = outputs(m, pp, l - 1), b = outputs(m, qq, l - 1);
            for (int t = 0; t < len; t++) {
                double d = 0;
                for (int j = 0; j < u.length; j++) d += (a[t][j] - b[t][j]) * u[j];
                s += d * d;
            }
        }
        return s / uu;
    }

    static float[][] outputs(Model m, int[] ids, int block) {
        var s = m.newSession(ids.length + 1);
        var c = dev.tiller.steering.ActivationCapture.install(s.installHooks(), "blocks." + block + ".hook_resid_post");
        s.prefill(ids);
        return c.rows("blocks." + block + ".hook_resid_post");
    }

    static SteeringVector extract(Model m, ExtractionMethod method) throws Exception {
        List<String> pos = Files.readAllLines(REF.resolve("pos.txt")).stream().filter(s -> !s.isEmpty()).toList();
        List<String> neg = Files.readAllLines(REF.resolve("neg.txt")).stream().filter(s -> !s.isEmpty()).toList();
        var o = new Extractor.Options(method, HookSite.RESID_POST, 1, m.config().layers() - 1, Extractor.TokenAggregation.MEAN, true, false);
        return new Extractor(m).extract(pos, neg, o);
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }
}
