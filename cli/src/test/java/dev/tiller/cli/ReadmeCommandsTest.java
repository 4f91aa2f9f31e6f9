package dev.tiller.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's headline command, run as written, and {@code generate}'s control-vector flags end to end, against the
 * generations llama.cpp made with the same vector ({@code reference/stories260K/dog_happy_mean_S.json}).
 */
class ReadmeCommandsTest {
    static final Path README = Path.of(System.getProperty("user.dir")).resolveSibling("README.md");
    static final String PROMPT = "The little dog was very sad because";
    static final Path VECTOR = Shared.reference("stories260K", "happy_mean.gguf");

    record Run(int code, String out, String err) {}

    static Run tiller(List<String> args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Tiller.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args.toArray(String[]::new));
        return new Run(code, out.toString(), err.toString());
    }

    /** llama.cpp's greedy continuation of the sad-dog prompt with happy_mean.gguf at this scale. */
    static String llamaCpp(String scale) {
        return Reference.json(Shared.reference("stories260K", "dog_happy_mean_" + scale + ".json")).get("greedy_text").asText();
    }

    /** The words of a shell command line: double- or single-quoted strings, or runs of non-blanks. */
    static List<String> words(String line) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("\"([^\"]*)\"|'([^']*)'|(\\S+)").matcher(line);
        while (m.find()) out.add(m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3));
        return out;
    }

    /** The README's first {@code ./tiller} command, with {@code ../shared} pointing where this build's shared data is. */
    static List<String> readmeGenerate() throws IOException {
        String line = Files.readAllLines(README).stream().filter(l -> l.contains("./tiller generate -m ../shared")).findFirst()
                .orElseThrow(() -> new AssertionError("no ./tiller generate command with the shared model in " + README));
        List<String> args = new ArrayList<>();
        for (String w : words(line.substring(line.indexOf("./tiller ") + "./tiller ".length()))) {
            args.add(w.startsWith("../shared/") ? Shared.DIR.resolve(w.substring("../shared/".length())).toString()
                    : w.contains(":../shared/") ? w.replace("../shared/", Shared.DIR + "/") : w);
        }
        return args;
    }

    @Test
    void theReadmesFirstCommandIsLlamaCppsSteeredStory() throws IOException {
        List<String> args = readmeGenerate();
        assertTrue(args.contains("--control-vector-scaled"), "the README's command steers: " + args);
        String scale = args.get(args.indexOf("--control-vector-scaled") + 1).replaceFirst(".*:", "");
        Run r = tiller(args);
        assertEquals(0, r.code(), r.err());
        // the prompt is echoed, then the continuation; llama.cpp's reference holds its first 40 tokens
        assertTrue(r.out().startsWith(PROMPT + llamaCpp(scale)), "got: " + r.out() + "\nllama.cpp: " + PROMPT + llamaCpp(scale));
        // and dropping the last flag (as the README says) tells a different story
        Run plain = tiller(args.subList(0, args.indexOf("--control-vector-scaled")));
        assertEquals(0, plain.code(), plain.err());
        assertFalse(plain.out().startsWith(PROMPT + llamaCpp(scale)), plain.out());
    }

    static List<String> generate(int n, String... more) {
        List<String> args = new ArrayList<>(List.of("generate", "-m", Shared.stories260K().toString(), "-p", PROMPT, "-n",
                Integer.toString(n), "--temp", "0", "--no-display-prompt"));
        args.addAll(List.of(more));
        return args;
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.3", "0.6", "-0.6"})
    void controlVectorScaledMatchesLlamaCpp(String scale) {
        Run r = tiller(generate(40, "--control-vector-scaled", VECTOR + ":" + scale));
        assertEquals(0, r.code(), r.err());
        assertEquals(llamaCpp(scale), r.out().replaceAll("\\R$", ""));
    }

    /** llama.cpp steers every layer the file has by default; a range over all of them is the same run. */
    @Test
    void aLayerRangeOverEveryLayerIsTheDefault() {
        Run r = tiller(generate(40, "--control-vector-scaled", VECTOR + ":0.6", "--control-vector-layer-range", "1", "4"));
        assertEquals(0, r.code(), r.err());
        assertEquals(llamaCpp("0.6"), r.out().replaceAll("\\R$", ""));
    }

    /** A narrower range steers only its blocks: the same as adding those directions at their resid_post by hand. */
    @Test
    void aLayerRangeSteersOnlyItsBlocks() {
        float scale = 0.6f;
        int first = 2, last = 3;
        Run r = tiller(generate(40, "--control-vector-scaled", VECTOR + ":" + scale, "--control-vector-layer-range",
                Integer.toString(first), Integer.toString(last)));
        assertEquals(0, r.code(), r.err());
        ControlVector cv = ControlVectorFile.read(VECTOR);
        String expected;
        try (Model model = Model.load(Shared.stories260K())) {
            Session s = model.newSession();
            var hooks = s.installHooks();
            for (int layer = first; layer <= last; layer++) {
                float[] d = cv.directions().get(layer);
                assertNotNull(d, "direction." + layer);
                hooks.add("blocks." + layer + ".hook_resid_post", a -> {
                    for (int t = 0; t < a.tokens(); t++) {
                        int off = a.rowOffset(t);
                        for (int i = 0; i < d.length; i++) a.data()[off + i] += scale * d[i];
                    }
                });
            }
            expected = new Generator(s).generate(PROMPT, GenerationOptions.greedy(40), t -> {}).text();
        }
        assertEquals(expected, r.out().replaceAll("\\R$", ""));
        assertNotEquals(llamaCpp("0.6"), expected, "the range should change the story");
    }

    @Test
    void layerRangeMistakesAreOneLineErrors() {
        Run noVector = tiller(generate(4, "--control-vector-layer-range", "1", "2"));
        assertEquals(1, noVector.code());
        assertTrue(noVector.err().startsWith("error: --control-vector-layer-range needs a --control-vector"), noVector.err());
        Run backwards = tiller(generate(4, "--control-vector-scaled", VECTOR + ":0.6", "--control-vector-layer-range", "3", "1"));
        assertEquals(1, backwards.code());
        assertTrue(backwards.err().startsWith("error: --control-vector-layer-range 3 1 is not a valid range"), backwards.err());
        Run noScale = tiller(generate(4, "--control-vector-scaled", VECTOR.toString()));
        assertEquals(1, noScale.code());
        assertTrue(noScale.err().contains("--control-vector-scaled"), noScale.err());
    }
}
