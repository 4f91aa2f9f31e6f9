package dev.tiller.examples.embed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.controlvector.ControlVectorSteering;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * Tiller embedded in an application: load a model, generate, read activations through a hook, then generate again
 * steered by a llama.cpp control vector.
 *
 * <pre>Embed MODEL CONTROL_VECTOR SCALE [EXPECTED_PLAIN.json EXPECTED_STEERED.json]</pre>
 *
 * With the two reference files (llama.cpp's greedy runs on the same prompt), the generated token ids are compared with
 * them and a difference ends the program with status 1.
 */
public final class Embed {
    static final String PROMPT = "The little dog was very sad because";

    public static void main(String[] args) throws IOException {
        if (args.length != 3 && args.length != 5) {
            System.err.println("usage: Embed MODEL CONTROL_VECTOR SCALE [EXPECTED_PLAIN.json EXPECTED_STEERED.json]");
            System.exit(2);
        }
        Path modelPath = Path.of(args[0]);
        Path vectorPath = Path.of(args[1]);
        float scale = Float.parseFloat(args[2]);
        boolean ok = true;

        try (Model model = Model.load(modelPath)) {
            System.out.println(model);

            // 1. plain generation, reading the residual stream of the last block through a hook
            Session session = model.newSession();                  // own KV cache; many sessions may share a model
            int last = model.config().layers() - 1;
            double[] sumOfNorms = {0};
            session.installHooks().add("blocks." + last + ".hook_resid_post", acts -> {
                float[] data = acts.data();
                for (int t = 0; t < acts.tokens(); t++) {
                    double sq = 0;
                    for (int i = acts.rowOffset(t), e = i + acts.width(); i < e; i++) sq += (double) data[i] * data[i];
                    sumOfNorms[0] += Math.sqrt(sq);
                }
            });
            Generation plain = new Generator(session).generate(PROMPT, GenerationOptions.greedy(60), s -> { });
            System.out.println("plain:   " + PROMPT + plain.text());
            System.out.println("         " + plain);
            System.out.printf("         mean |resid_post| of block %d: %.3f over %d positions%n", last,
                    sumOfNorms[0] / session.position(), session.position());
            float[] logits = session.logits();                     // logits of the last evaluated token
            System.out.println("         logits of the last token: " + logits.length + " values");

            // 2. the same prompt steered with a control vector (llama.cpp's --control-vector-scaled FILE:SCALE)
            Session steered = model.newSession();
            ControlVector cv = ControlVector.sum(List.of(ControlVectorFile.read(vectorPath)), List.of(scale));
            System.out.println("vector:  " + cv);
            ControlVectorSteering.install(steered.installHooks(), cv, model.config().dim(), model.config().layers(), 1, last);
            Generation happy = new Generator(steered).generate(PROMPT, GenerationOptions.greedy(60), s -> { });
            System.out.println("steered: " + PROMPT + happy.text());
            System.out.println("         " + happy);

            if (args.length == 5) {
                ok &= matches("plain", plain, Path.of(args[3]));
                ok &= matches("steered", happy, Path.of(args[4]));
            }
        }
        if (!ok) System.exit(1);
    }

    /** Whether the generated ids start like the reference's greedy ids (as many as both have). */
    static boolean matches(String what, Generation g, Path reference) throws IOException {
        JsonNode ref = new ObjectMapper().readTree(reference.toFile());
        JsonNode ids = ref.get("greedy_tokens");
        if (ids == null || !ids.isArray()) throw new IllegalArgumentException(reference + ": no greedy_tokens array");
        int n = Math.min(ids.size(), g.tokens().length);
        int[] expected = new int[n];
        for (int i = 0; i < n; i++) expected[i] = ids.get(i).asInt();
        int[] got = Arrays.copyOf(g.tokens(), n);
        boolean same = n > 0 && Arrays.equals(expected, got);
        System.out.println((same ? "same as " : "DIFFERENT from ") + reference.getFileName() + " (" + n + " tokens): " + what);
        return same;
    }
}
