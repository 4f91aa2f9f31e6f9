package dev.tiller.steering.train;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Training end to end on stories260K (small and fast): an objective doing its job, saving, and bad input. */
@Slow
class TrainerTest {
    static Model model;

    @BeforeAll
    static void load() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(TestModels.stories()), "no stories260K");
        model = Model.load(TestModels.stories());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    static final String TARGET = " She liked to eat green frogs.";

    @Test
    void crossEntropyMakesAChosenContinuationTheGreedyOutput(@TempDir Path tmp) {
        List<TrainData.Row> rows = List.of(new TrainData.Row(0, PROMPT, TARGET, null, null));
        String before = SteeredEvaluator.generate(model, null, PROMPT, GenerationOptions.greedy(20)).text();
        assertFalse(before.startsWith(TARGET.strip()) || before.startsWith(TARGET), "already the greedy output: " + before);
        Trainer.Config c = new Trainer.Config();
        c.steps = 40;
        c.batch = 1;
        c.lr = 0.1;
        Trainer t = new Trainer(model, c);
        Trainer.Result r = t.train(rows, t.newParams(), s -> {});
        assertTrue(r.completed(), r.message());
        var pts = r.curve().points();
        assertTrue(pts.get(pts.size() - 1).loss() < 0.2 * pts.get(0).loss(), "loss " + pts.get(0).loss() + " -> " + pts.get(pts.size() - 1).loss());
        String after = SteeredEvaluator.generate(model, r.params(), PROMPT, GenerationOptions.greedy(20)).text();
        assertTrue(after.startsWith(TARGET) || after.startsWith(TARGET.strip()), "steered greedy output: '" + after + "'");

        // saved and read back, the vectors give the same output
        Path out = tmp.resolve("v.steer");
        SteeringStore.save(out, r.params(), c.toJson(), "{}", model);
        SteeringStore.Saved s = SteeringStore.load(out, model);
        assertEquals(r.params().site, s.params().site);
        assertArrayEquals(r.params().layers, s.params().layers);
        for (int i = 0; i < s.params().theta.length; i++) assertEquals((float) r.params().theta[i], (float) s.params().theta[i]);
        assertTrue(s.config().contains("\"objective\":\"ce\""));
        assertEquals(after, SteeredEvaluator.generate(model, s.params(), PROMPT, GenerationOptions.greedy(20)).text());

    }

    @Test
    void prefixVectorsAloneCanBeTrained(@TempDir Path tmp) {
        List<TrainData.Row> rows = List.of(new TrainData.Row(0, PROMPT, TARGET, null, null));
        Trainer.Config c = new Trainer.Config();
        c.site = null;
        c.prefix = 4;
        c.steps = 30;
        c.batch = 1;
        c.lr = 0.05;
        Trainer t = new Trainer(model, c);
        Trainer.Result r = t.train(rows, t.newParams(), s -> {});
        var pts = r.curve().points();
        assertTrue(pts.get(pts.size() - 1).loss() < 0.5 * pts.get(0).loss(), "loss " + pts.stream().map(p -> String.format("%.3f", p.loss())).toList());

        // saved as .steer prefix vectors (tiller-cli's TrainAndSteerCommandTest runs them through `tiller generate --steer`)
        String steered = SteeredEvaluator.generate(model, r.params(), PROMPT, GenerationOptions.greedy(15)).text();
        Path out = tmp.resolve("prefix.steer");
        SteeringStore.save(out, r.params(), c.toJson(), "{}", model);
        SteeringParams back = SteeringStore.load(out, model).params();
        assertEquals(4, back.prefixLength);
        assertEquals(steered, SteeredEvaluator.generate(model, back, PROMPT, GenerationOptions.greedy(15)).text());
    }

    @Test
    void emptyDataIsRejected(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("empty.jsonl");
        Files.writeString(f, "\n\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainData.read(f, "Q: {question}\nA:", 0));
        assertTrue(e.getMessage().contains("no training rows"), e.getMessage());
        Files.writeString(f, "{\"text\": \"x\"}\n");
        assertThrows(IllegalArgumentException.class, () -> TrainData.read(f, "Q: {question}\nA:", 0));
        Trainer t = new Trainer(model, new Trainer.Config());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class,
                () -> t.train(List.of(new TrainData.Row(0, "x", null, null, null)), t.newParams(), s -> {}));
        assertTrue(e2.getMessage().contains("no completion"), e2.getMessage());
    }

    @Test
    void aNonFiniteLossStopsAndKeepsTheLastGoodVectors() {
        Trainer.Config c = new Trainer.Config();
        c.steps = 5;
        c.batch = 1;
        c.lr = 1e308;   // the first update is finite but absurd; the next forward overflows to inf - inf
        Trainer t = new Trainer(model, c);
        List<String> log = new ArrayList<>();
        Trainer.Result r = t.train(List.of(new TrainData.Row(0, PROMPT, TARGET, null, null)), t.newParams(), log::add);
        assertFalse(r.completed());
        assertTrue(r.message().contains("not finite"), r.message());
        assertEquals(1, r.curve().points().size());
        for (double v : r.params().theta) assertTrue(Double.isFinite(v));
    }

    @Test
    void aThrowingRewardStopsWithAClearErrorAndNoUpdate() {
        Trainer.Config c = new Trainer.Config();
        c.objective = Trainer.Objective.GRPO;
        c.reward = "answer";      // rows without a label make it throw
        c.steps = 3;
        c.batch = 1;
        c.group = 2;
        c.maxNewTokens = 4;
        Trainer t = new Trainer(model, c);
        Trainer.Result r = t.train(List.of(new TrainData.Row(0, PROMPT, null, null, null)), t.newParams(), s -> {});
        assertFalse(r.completed());
        assertTrue(r.message().contains("reward failed on row 1"), r.message());
        for (double v : r.params().theta) assertEquals(0.0, v);
    }

    @Test
    void stopStringsEndSampledAndEvaluatedGenerations() {
        // stories260K never ends a story with EOS within 64 tokens, so without a stop string every generation is cut
        List<TrainData.Row> rows = List.of(new TrainData.Row(0, PROMPT, null, null, null), new TrainData.Row(1, "One day, Tom went to the park.", null, null, null));
        assertEquals(64.0, SteeredEvaluator.evaluate(model, null, rows, 64, List.of(), null).meanTokens());
        assertTrue(SteeredEvaluator.evaluate(model, null, rows, 64, List.of("."), null).meanTokens() < 40);

        List<String> logs = new ArrayList<>();
        for (List<String> stop : List.of(List.<String>of(), List.of("."))) {
            Trainer.Config c = new Trainer.Config();
            c.objective = Trainer.Objective.GRPO;
            c.reward = "contains:play";
            c.steps = 1;
            c.batch = 2;
            c.group = 4;
            c.maxNewTokens = 64;
            c.stop = stop;
            Trainer t = new Trainer(model, c);
            assertTrue(t.train(rows, t.newParams(), logs::add).completed());
            if (!stop.isEmpty()) assertTrue(c.toJson().contains("\"stop\":[\".\"]"), c.toJson());
        }
        // the step logs the mean sampled length: all 64 without a stop string, one sentence with "."
        assertTrue(logs.get(0).contains("len 64.0"), logs.get(0));
        double len = Double.parseDouble(logs.get(1).replaceFirst(".*len ([0-9.]+).*", "$1"));
        assertTrue(len < 40, logs.get(1));
    }

    /**
     * GRPO/entropy rollouts with bias (and prefix) vectors decode all prompts × samples together in one batch; greedy (temperature
     * 0) they must be exactly the samples the one-at-a-time generation gives with the same vectors, and the vectors must
     * act (the unsteered samples differ).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 2})
    void batchedRolloutsAreTheSteeredGenerationsOneAtATime(int prefix) {
        Trainer.Config c = new Trainer.Config();
        c.objective = Trainer.Objective.GRPO;
        c.temperature = 0;
        c.maxNewTokens = 12;
        c.stop = List.of(".");
        c.prefix = prefix;
        try (Trainer t = new Trainer(model, c)) {
            SteeringParams p = t.newParams();
            java.util.Random rnd = new java.util.Random(7);
            for (int i = 0; i < p.theta.length; i++) p.theta[i] = rnd.nextGaussian() * 0.4;
            List<String> texts = List.of(PROMPT, "The dog ran to the park.", "Tom had a red ball");
            List<TrainData.Row> rows = new java.util.ArrayList<>();
            List<int[]> prompts = new java.util.ArrayList<>();
            for (int i = 0; i < texts.size(); i++) {
                rows.add(new TrainData.Row(i, texts.get(i), null, null, null));
                prompts.add(model.tokenizer().encode(texts.get(i), true, false));
            }
            List<Trainer.Sample> batched = t.samples(rows, prompts, 2, p, k -> k);
            assertEquals(6, batched.size());
            int changed = 0;
            for (int i = 0; i < 6; i++) {
                GenerationOptions greedy = GenerationOptions.greedy(12).withStop(List.of("."));
                var one = SteeredEvaluator.generate(model, p, texts.get(i / 2), greedy);
                assertArrayEquals(one.tokens(), batched.get(i).tokens(), "sample " + i + ": " + one.text() + " | " + batched.get(i).text());
                assertEquals(one.text(), batched.get(i).text());
                if (!SteeredEvaluator.generate(model, null, texts.get(i / 2), greedy).text().equals(one.text())) changed++;
            }
            assertTrue(changed > 0, "the vectors changed no sample");
        }
    }
}
