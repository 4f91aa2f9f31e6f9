package dev.tiller.engine.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The harness end to end: arith-mini's llama.cpp figure, and plumbing on a model that cannot do arithmetic. */
class EvaluatorTest {
    static final Path SHARED = Shared.DIR;

    static Evaluator.Config greedy(int samples, int maxTokens) {
        return new Evaluator.Config(Evaluator.Config.DEFAULT_TEMPLATE, false, null, samples, maxTokens,
                samples == 1 ? SamplerConfig.greedy() : SamplerConfig.defaults(), 0, 16, 512, List.of());
    }

    @Slow
    @Test
    void arithMiniPlainPromptsScoreLlamaCppsFigure() throws Exception {
        List<EvalItem> items = EvalItem.read(SHARED.resolve("data/arith/dev.jsonl"), 0, w -> fail(w));
        assertEquals(500, items.size());
        try (Model m = Model.load(SHARED.resolve("models/arith-mini.gguf"))) {
            Evaluator.Report r = Evaluator.run(m, greedy(1, 96), Evaluator.Setting.plain(), items);
            // data/arith/README.md: greedy, plain prompt "Q: {question}\nA:", llama.cpp: 85.2%, 0% worked
            assertEquals(426, r.correct());
            assertEquals(0.0, r.workedShare());
            for (int i = 0; i < 3; i++) {
                JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/arith-mini/dev" + i + "_plain.json").toFile());
                int[] expected = new int[ref.get("greedy_tokens").size()];
                for (int k = 0; k < expected.length; k++) expected[k] = ref.get("greedy_tokens").get(k).asInt();
                assertArrayEquals(expected, r.items().get(i).answers().getFirst().tokens(), "dev item " + i);
            }
        }
    }

    @Slow
    @Test
    void storiesModelRunsThroughTheHarnessWithSampledVotes() {
        List<EvalItem> items = EvalItem.read(SHARED.resolve("data/gsm8k/train.jsonl"), 4, w -> fail(w));
        try (Model m = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            Evaluator.Report r = Evaluator.run(m, greedy(3, 24), Evaluator.Setting.plain(), items);
            assertEquals(4, r.n());
            assertEquals(0, r.correct(), "a story model does not solve GSM8K");
            for (Evaluator.ItemResult it : r.items()) {
                assertEquals(3, it.answers().size());
                assertEquals(it.voted(), Evaluator.majority(it.extracted()));
            }
            assertTrue(r.meanTokens() > 0 && r.meanTokens() <= 24);
        }
    }
}
