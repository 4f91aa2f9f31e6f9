package dev.tiller.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.testsupport.Reference;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Prompt token ids that llama.cpp produced for the reference runs in ../shared/reference. */
class ReferencePromptTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestFactory
    Stream<DynamicTest> stories260kPromptsWithBos() throws IOException {
        return cases("stories260K", "models/stories260K.gguf", true, false);
    }

    @TestFactory
    Stream<DynamicTest> tinyQwen2PromptsParsingSpecialTokens() throws IOException {
        return cases("tiny-random-qwen2", "models/tiny-random-qwen2.gguf", true, true);
    }

    private static Stream<DynamicTest> cases(String refDir, String model, boolean addSpecial, boolean parseSpecial) throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        try (Stream<Path> files = Files.list(TestData.SHARED.resolve("reference").resolve(refDir))) {
            for (Path json : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
                tests.add(DynamicTest.dynamicTest(json.getFileName().toString(), () -> {
                    JsonNode ref = JSON.readTree(json.toFile());
                    Tokenizer tok = TestData.gguf(TestData.SHARED.resolve(model));
                    int[] expected = Reference.ints(ref.get("prompt_tokens"));
                    String prompt = ref.get("prompt").asText();
                    assertArrayEquals(expected, tok.encode(prompt, addSpecial, parseSpecial), prompt);
                    // and back: BOS and control tokens render only on request
                    assertEquals(prompt, tok.decode(expected, true).replaceFirst("^<s>", ""));
                    if (ref.has("greedy_tokens") && ref.has("greedy_text")) {
                        // generated tokens continue the prompt: streamed as a continuation, the text is llama.cpp's
                        StreamingDecoder stream = tok.newStreamingDecoder(false, true);
                        StringBuilder text = new StringBuilder();
                        for (int id : Reference.ints(ref.get("greedy_tokens"))) text.append(stream.accept(id));
                        text.append(stream.flush());
                        assertEquals(ref.get("greedy_text").asText(), text.toString(), "llama.cpp's text of the greedy continuation");
                    }
                }));
            }
        }
        return tests.stream();
    }
}
