package dev.tiller.engine.thinking;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.eval.EvalItem;
import dev.tiller.engine.eval.Evaluator;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import dev.tiller.tokenizer.Tokenizer;
import dev.tiller.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ThinkingTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void logOddsScalingByHand() {
        float[] l = {0, 0, 0, 0};
        LogOdds.scale(l, 0, 4, 0, 0.5, 0);
        // p = 1/4 -> odds 1/3; scaled log-odds 0.5*ln(1/3): p' = 1/(1 + sqrt 3) = 0.36603
        assertEquals(0.36603, LogOdds.probability(l, 0, 4, 0), 1e-5);
        assertEquals(0.0, l[1]);
        float[] m = {2, 1, 0};
        LogOdds.scale(m, 0, 3, 2, 1, Math.log(3));   // bias ln 3 triples the odds
        double p = LogOdds.probability(m, 0, 3, 2);
        double odds0 = 1 / (Math.exp(2) + Math.exp(1));
        assertEquals(3 * odds0 / (1 + 3 * odds0), p, 1e-6);
    }

    @Test
    void budgetForcingAndWaitOnTheQwen3Vocabulary() {
        Tokenizer tok = Tokenizers.fromHuggingFace(SHARED.resolve("tokenizers/qwen3"));
        int open = tok.tokenId("<think>").orElseThrow(), close = tok.tokenId("</think>").orElseThrow();
        int[] nl = tok.encode("\n", false, false);
        ThinkingProcessor p = new ThinkingProcessor(new ThinkingControl(null, 3, null, null, true), tok);
        p.start(tok.encode("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", false, true));
        List<Integer> out = new ArrayList<>();
        for (int step = 0; step < 7; step++) out.add(p.accept(100 + step, step));
        List<Integer> expected = new ArrayList<>(List.of(open));
        for (int t : nl) expected.add(t);
        // the newline after <think> is the first thinking token; the budget of 3 allows two more, then </think>
        expected.addAll(List.of(100 + 1 + nl.length, 101 + 1 + nl.length, close));
        assertEquals(expected, out.subList(0, expected.size()));
        assertEquals(3, p.thinkingTokens());
        assertFalse(p.thinking());

        // an early </think> becomes "\nWait" and thinking goes on
        ThinkingProcessor w = new ThinkingProcessor(new ThinkingControl(null, null, 5, null, null), tok);
        w.start(tok.encode("<think>\n", false, true));
        assertTrue(w.thinking());
        int[] wait = tok.encode("\nWait", false, false);
        List<Integer> got = new ArrayList<>();
        got.add(w.accept(close, 0));
        for (int i = 1; i < wait.length; i++) got.add(w.accept(close, i));
        assertEquals(java.util.Arrays.stream(wait).boxed().toList(), got);
        assertTrue(w.thinking());
        assertEquals(1, w.waits());
    }

    /** Random tiny Qwen3, real Qwen3 tokenizer and chat template: mean thinking length rises with the end-of-thinking scale. */
    @Slow
    @Test
    void meanThinkingLengthMovesMonotonicallyWithTheScale(@TempDir Path dir) {
        Path gguf = dir.resolve("tiny-qwen3.gguf");
        SyntheticModel.preset("tiny-qwen3").writeGguf(gguf, GGMLType.F32, SHARED.resolve("tokenizers/qwen3"));
        List<EvalItem> items = EvalItem.read(SHARED.resolve("data/gsm8k/train.jsonl"), 4, w -> fail(w));
        double[] scales = {0.1, 0.25, 0.5};
        double[] mean = new double[scales.length];
        try (Model m = Model.load(gguf)) {
            assertTrue(m.chatTemplate().isPresent());
            // pure sampling: top-k / top-p / min-p truncation would renormalise a scaled-up rare token to near certainty
            Evaluator.Config cfg = new Evaluator.Config(null, true, null, 2, 32, SamplerConfig.defaults().withTemperature(1f).withTopK(0).withTopP(1f).withMinP(0f), 1, 16, 1024, List.of());
            for (int i = 0; i < scales.length; i++) {
                Evaluator.Setting s = new Evaluator.Setting("scale " + scales[i], List.of(), new ThinkingControl(scales[i], null, null, null, true), null, 1);
                mean[i] = Evaluator.run(m, cfg, s, items).meanThinking();
            }
        }
        for (int i = 1; i < scales.length; i++) assertTrue(mean[i] > mean[i - 1], java.util.Arrays.toString(mean));
    }
}
