package dev.tiller.steering.train;

import dev.tiller.engine.api.Model;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The GSM8K reward end to end on the random qwen2 model: real GSM8K rows become prompts, the answer reward scores
 * GSM8K's own worked solutions right and a wrong final number wrong, and GRPO steps run (a length term gives the
 * groups reward variance, since a random model never answers right).
 */
@Slow
class Gsm8kPlumbingTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void gsm8kRowsRewardAndGrpoSteps() {
        List<TrainData.Row> rows = TrainData.read(SHARED.resolve("data/gsm8k/train.jsonl"), "Q: {question}\nA:", 4);
        assertEquals(4, rows.size());
        Rewards.Reward answer = Rewards.parse("answer");
        for (TrainData.Row r : rows) {
            assertTrue(r.prompt().startsWith("Q: ") && r.prompt().endsWith("\nA:"), r.prompt());
            String solution = r.completion() != null ? r.completion() : "";
            // GSM8K's reference solution ends "#### N": its own answer must score 1, another number 0
            String worked = solution.contains("####") ? solution : " #### " + r.label();
            assertEquals(1.0, answer.score(worked, 10, r), "row " + r.index() + ": " + worked);
            assertEquals(0.0, answer.score(" #### " + r.label() + "1", 3, r), "row " + r.index());
        }
        try (Model m = Model.load(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            Trainer.Config c = new Trainer.Config();
            c.objective = Trainer.Objective.GRPO;
            c.reward = "answer+maxlen:4";
            c.steps = 2;
            c.batch = 2;
            c.group = 4;
            c.maxNewTokens = 8;
            c.lr = 0.01;
            Trainer t = new Trainer(m, c);
            Trainer.Result r = t.train(rows, t.newParams(), s -> {});
            assertTrue(r.completed(), r.message());
            assertEquals(2, r.curve().points().size());
            for (var p : r.curve().points()) assertTrue(Double.isFinite(p.loss()) && Double.isFinite(p.reward()), p.toString());
        }
    }
}
