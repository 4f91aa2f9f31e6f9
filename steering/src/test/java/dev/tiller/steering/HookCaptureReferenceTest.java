package dev.tiller.steering;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Captured activations equal llama.cpp's eval-callback dump of "Once upon a time" on stories260K. The mapping of
 * llama.cpp's graph names to TransformerLens hook names (checked against the dump's ops and shapes):
 * <ul>
 * <li>{@code inp_embd} = GET_ROWS(token_embd) → {@code hook_embed}</li>
 * <li>{@code kqv_out-N} = MUL_MAT(attn_output.weight, kqv_merged_cont) — after the output projection → {@code hook_attn_out}</li>
 * <li>{@code ffn_inp-N} = kqv_out-N + block input → {@code hook_resid_mid}</li>
 * <li>{@code ffn_out-N} = MUL_MAT(ffn_down.weight, ...) → {@code hook_mlp_out}</li>
 * <li>{@code l_out-N} = ffn_out-N + ffn_inp-N → {@code hook_resid_post}</li>
 * <li>{@code result_norm} → {@code ln_final}</li>
 * </ul>
 * In the last block llama.cpp keeps only the rows that produce logits (the last token), so its tensors there have
 * one row: it is compared with our last row.
 */
class HookCaptureReferenceTest {
    static final Path SHARED = Shared.DIR;
    static final Path REF = SHARED.resolve("reference/stories260K");

    @Test
    void capturedActivationsMatchLlamaCppDump() throws Exception {
        Map<String, EvalCallbackDump.Printed> dump = EvalCallbackDump.read(REF.resolve("once.eval-callback.txt"));
        JsonNode once = new ObjectMapper().readTree(REF.resolve("once.json").toFile());
        int[] prompt = new int[once.get("prompt_tokens").size()];
        for (int i = 0; i < prompt.length; i++) prompt[i] = once.get("prompt_tokens").get(i).asInt();

        try (Model model = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            int layers = model.config().layers();
            List<String[]> pairs = new ArrayList<>();
            pairs.add(new String[]{"inp_embd", "hook_embed"});
            for (int l = 0; l < layers; l++) {
                pairs.add(new String[]{"kqv_out-" + l, "blocks." + l + ".hook_attn_out"});
                pairs.add(new String[]{"ffn_inp-" + l, "blocks." + l + ".hook_resid_mid"});
                pairs.add(new String[]{"ffn_out-" + l, "blocks." + l + ".hook_mlp_out"});
                pairs.add(new String[]{"l_out-" + l, "blocks." + l + ".hook_resid_post"});
            }
            pairs.add(new String[]{"result_norm", "ln_final"});
            Session s = model.newSession();
            ActivationCapture cap = ActivationCapture.install(s, pairs.stream().map(p -> p[1]).toArray(String[]::new));
            s.prefill(prompt);

            int compared = 0;
            for (String[] p : pairs) {
                EvalCallbackDump.Printed ref = dump.get(p[0]);
                assertNotNull(ref, "the dump has no tensor " + p[0]);
                float[][] mine = cap.rows(p[1]);
                int refRows = ref.rows().size();
                assertEquals(ref.ne()[1], refRows, p[0] + ": printed rows");
                assertTrue(refRows == mine.length || refRows == 1, p[0] + " has " + refRows + " rows, " + p[1] + " " + mine.length);
                int offset = mine.length - refRows; // llama.cpp's last block keeps only the last row
                double sum = 0;
                for (int r = 0; r < refRows; r++) {
                    float[] row = mine[offset + r];
                    float[] printed = ref.rows().get(r);
                    assertEquals(6, printed.length, p[0] + " row " + r + " should print 3 + 3 values");
                    for (int i = 0; i < 6; i++) {
                        int col = i < 3 ? i : row.length - 6 + i;
                        float want = printed[i], got = row[col];
                        assertTrue(Math.abs(got - want) <= 1e-3 + 1e-3 * Math.abs(want),
                                p[0] + " vs " + p[1] + " row " + r + " col " + col + ": llama.cpp " + want + ", tiller " + got);
                        compared++;
                        sum += got;
                    }
                }
                // eval-callback sums the values it prints (it skips the elided ones)
                assertEquals(ref.sum(), sum, 6e-3 * refRows * Math.max(1, Math.abs(ref.sum()) / 10), p[0] + ": sum of the printed values");
            }
            assertTrue(compared > 500, "compared " + compared + " values");
        }
    }
}
