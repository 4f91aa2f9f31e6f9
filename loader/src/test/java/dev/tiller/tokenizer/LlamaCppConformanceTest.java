package dev.tiller.tokenizer;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * llama.cpp's test-tokenizer-0 suite: every text of {@code NAME.gguf.inp} must encode (add_special = false,
 * parse_special = false) to exactly the ids in {@code NAME.gguf.out}, which llama.cpp produced.
 */
class LlamaCppConformanceTest {
    private static final String SEPARATOR = "\n__ggml_vocab_test__\n";

    record Case(String text, int[] expected) {
    }

    /** Splits the .inp file exactly like test-tokenizer-0.cpp (the file ends with a separator). */
    static List<Case> readCases(String name) throws IOException {
        Path inp = TestData.VOCABS.resolve("ggml-vocab-" + name + ".gguf.inp");
        Path out = TestData.VOCABS.resolve("ggml-vocab-" + name + ".gguf.out");
        String raw = Files.readString(inp, StandardCharsets.UTF_8);
        List<String> texts = new ArrayList<>();
        int pos = 0;
        while (pos < raw.length()) {
            int next = raw.indexOf(SEPARATOR, pos);
            if (next < 0) {
                texts.add(raw.substring(pos));
                break;
            }
            texts.add(raw.substring(pos, next));
            pos = next + SEPARATOR.length();
        }
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(lines.size(), texts.size(), name + ": .inp and .out have different numbers of tests");
        List<Case> cases = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            String o = lines.get(i).strip();
            int[] ids = o.isEmpty() ? new int[0] : Arrays.stream(o.split(" ")).mapToInt(Integer::parseInt).toArray();
            cases.add(new Case(texts.get(i), ids));
        }
        return cases;
    }

    static List<String> vocabNames() throws IOException {
        try (Stream<Path> files = Files.list(TestData.VOCABS)) {
            return files.map(p -> p.getFileName().toString())
                    .filter(f -> f.startsWith("ggml-vocab-") && f.endsWith(".gguf.inp"))
                    .map(f -> f.substring("ggml-vocab-".length(), f.length() - ".gguf.inp".length()))
                    .sorted().toList();
        }
    }

    static String show(String text) {
        return text.replace("\n", "\\n").replace("\t", "\\t");
    }

    @TestFactory
    Stream<DynamicNode> encodesLikeLlamaCpp() throws IOException {
        List<DynamicNode> nodes = new ArrayList<>();
        for (String name : vocabNames()) {
            List<Case> cases = readCases(name);
            List<DynamicTest> tests = new ArrayList<>();
            for (int i = 0; i < cases.size(); i++) {
                Case c = cases.get(i);
                tests.add(DynamicTest.dynamicTest("#" + i + " '" + show(c.text()) + "'", () -> {
                    Tokenizer tok = TestData.forVocab(name);
                    Assumptions.assumeTrue(tok != null, name + ": no ggml-vocab-" + name + ".gguf and no HF tokenizer files here");
                    int[] got = tok.encode(c.text(), false, false);
                    assertArrayEquals(c.expected(), got, () -> name + " '" + show(c.text()) + "'\n expected "
                            + Arrays.toString(c.expected()) + "\n got      " + Arrays.toString(got));
                }));
            }
            nodes.add(DynamicContainer.dynamicContainer(name, tests));
        }
        return nodes.stream();
    }
}
