package dev.tiller.cli;

import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The README's "Using it" commands on the shared sample models, with small inputs. */
class ReadmeUsageTest {
    static final String STORIES = Shared.stories260K().toString();

    record Run(int code, String out, String err) {}

    /** Runs a command in this JVM; what it prints (some commands print to System.out/err directly) is captured. */
    static Run tiller(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        ByteArrayOutputStream sysOut = new ByteArrayOutputStream(), sysErr = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(sysOut, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(sysErr, true, StandardCharsets.UTF_8));
            var cl = Tiller.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            code = cl.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Run(code, out + sysOut.toString(StandardCharsets.UTF_8), err + sysErr.toString(StandardCharsets.UTF_8));
    }

    @Test
    void infoDescribesTheModel() {
        Run r = tiller("info", "-m", STORIES);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("llama dim=64 layers=5") && r.out().contains("512 tokens"), r.out());
    }

    @Test
    void tokenizePrintsIdsAndPieces() {
        Run r = tiller("tokenize", "-m", STORIES, "-p", "Once upon a time");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("403 -> '▁Once'") && r.out().contains("378 -> '▁time'"), r.out());
    }

    @Test
    void batchWritesOneResultPerRequest(@TempDir Path dir) throws IOException {
        Path in = Files.writeString(dir.resolve("requests.jsonl"), String.join("\n",
                "{\"id\":\"a\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}",
                "{\"id\":\"b\",\"prompt\":\"The little dog\",\"max_tokens\":8,\"temperature\":0}",
                "{\"id\":\"c\",\"prompt\":\"Tom\",\"max_tokens\":8,\"temperature\":0.8,\"seed\":3}") + "\n");
        Path out = dir.resolve("results.jsonl");
        Run r = tiller("batch", "-m", STORIES, "-i", in.toString(), "-o", out.toString(), "-P", "8", "--no-progress");
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(3, lines.size(), lines.toString());
        for (String id : List.of("a", "b", "c")) assertTrue(lines.stream().anyMatch(l -> l.contains("\"id\":\"" + id + "\"")), lines.toString());
    }

    @Test
    void evalScoresArithmetic(@TempDir Path dir) {
        Path out = dir.resolve("eval-results.jsonl");
        Run r = tiller("eval", "-m", Shared.model("arith-mini.gguf").toString(), "--data", Shared.resolve("data/arith/dev.jsonl").toString(),
                "--limit", "4", "-o", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue((r.out() + r.err()).contains("accuracy ") && Files.exists(out), r.out() + r.err());
    }

    @Test
    void helpNamesEveryCommand() {
        Run r = tiller("help");
        assertEquals(0, r.code(), r.err());
        for (String c : List.of("generate", "info", "tokenize", "models", "batch", "eval", "extract", "sweep", "train", "bench", "jmh")) {
            assertTrue((r.out() + r.err()).contains("  " + c + " "), c + " in\n" + r.out() + r.err());
        }
    }
}
