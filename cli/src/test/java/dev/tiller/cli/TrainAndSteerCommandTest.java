package dev.tiller.cli;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.steering.train.SteeredEvaluator;
import dev.tiller.steering.train.SteeringParams;
import dev.tiller.steering.train.SteeringStore;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** {@code tiller train} writes a .steer file that {@code tiller generate --steer} applies as the trainer's own evaluation does. */
class TrainAndSteerCommandTest {
    static final Path STORIES = Shared.stories260K();
    static final String PROMPT = "Once upon a time, there was a little girl named Lily.";
    static final String TARGET = " She liked to eat green frogs.";
    static Model model;

    @BeforeAll
    static void load() {
        model = Model.load(STORIES);
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
    }

    record Run(int code, String out, String err) {}

    static Run tiller(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Tiller.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static Path data(Path dir) throws IOException {
        return Files.writeString(dir.resolve("d.jsonl"), "{\"prompt\":\"" + PROMPT + "\",\"completion\":\"" + TARGET + "\"}\n");
    }

    /** Greedy {@code tiller generate --steer FILE} after the prompt, without the prompt echoed. */
    static String generateSteered(Path steer, int n) {
        Run r = tiller("generate", "-m", STORIES.toString(), "-p", PROMPT, "-n", Integer.toString(n), "--temp", "0",
                "--no-display-prompt", "--steer", steer.toString());
        assertEquals(0, r.code(), r.err());
        return r.out().replaceAll("\\R$", "");
    }

    @Slow
    @Test
    void trainedBiasVectorsSteerGenerate(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("v.steer");
        Run train = tiller("train", "-m", STORIES.toString(), "--data", data(tmp).toString(), "-o", out.toString(),
                "--steps", "40", "--batch", "1", "--lr", "0.1");
        assertEquals(0, train.code(), train.err());
        SteeringParams p = SteeringStore.load(out, model).params();
        String expected = SteeredEvaluator.generate(model, p, PROMPT, GenerationOptions.greedy(20)).text();
        assertNotEquals(SteeredEvaluator.generate(model, null, PROMPT, GenerationOptions.greedy(20)).text(), expected, "training changed nothing");
        assertEquals(expected, generateSteered(out, 20));
    }

    @Slow
    @Test
    void trainedPrefixVectorsSteerGenerate(@TempDir Path tmp) throws IOException {
        Path out = tmp.resolve("prefix.steer");
        Run train = tiller("train", "-m", STORIES.toString(), "--data", data(tmp).toString(), "-o", out.toString(),
                "--site", "none", "--prefix", "4", "--steps", "30", "--batch", "1", "--lr", "0.05");
        assertEquals(0, train.code(), train.err());
        SteeringParams p = SteeringStore.load(out, model).params();
        assertEquals(4, p.prefixLength);
        assertEquals(SteeredEvaluator.generate(model, p, PROMPT, GenerationOptions.greedy(15)).text(), generateSteered(out, 15));
    }

    @Test
    void badTrainArgumentsAreNamed(@TempDir Path tmp) throws IOException {
        Path data = Files.writeString(tmp.resolve("d.jsonl"), "{\"prompt\":\"a\",\"completion\":\" b\"}\n");
        String[][] cases = {
                {"--profile-reps", "0", "--profile"},
                {"--site", "none"},
                {"--precision", "float16"},
                {"--checkpoint", "sometimes"},
                {"--kl", "-1", "--objective", "grpo"},
                {"--clip", "-0.5"},
        };
        String[] named = {"--profile-reps", "--site none", "--precision", "--checkpoint", "--kl", "--clip"};
        for (int i = 0; i < cases.length; i++) {
            List<String> args = new ArrayList<>(List.of("train", "-m", STORIES.toString(), "--data", data.toString(),
                    "-o", tmp.resolve("o.steer").toString()));
            args.addAll(List.of(cases[i]));
            Run r = tiller(args.toArray(String[]::new));
            assertTrue(r.code() != 0, "exit code for " + args);
            assertTrue(r.err().contains(named[i]), r.err());
        }
    }

    @Test
    void aBudgetOverrunIsOneLine() {
        Run r = tiller("generate", "-m", STORIES.toString(), "-p", "Once", "-n", "2", "--ctx-size", "4096", "--mem-budget", "64K");
        assertEquals(1, r.code());
        assertTrue(r.err().startsWith("error: a context of 4096 positions"), r.err());
    }
}
