package dev.tiller.tokenizer;

import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.gguf.GGUFMetadata;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.loader.gguf.GGUFValueType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Special-token handling, HF vs GGUF agreement, and clear errors on bad input. */
class LoaderBehaviourTest {
    private static final String CHAT = "<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n";

    @Test
    void qwenSpecialTokensAndEndOfGeneration() {
        Tokenizer gguf = TestData.gguf(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"));
        Tokenizer hf = TestData.huggingFace(TestData.SHARED.resolve("tokenizers/qwen2.5"));
        for (Tokenizer tok : new Tokenizer[] {gguf, hf}) {
            assertEquals(151936, tok.vocabSize(), tok.toString());
            assertEquals(151644, tok.tokenId("<|im_start|>").getAsInt());
            assertTrue(tok.isSpecial(151645));
            assertFalse(tok.isSpecial(tok.tokenId("Ġthe").getAsInt()));
            assertFalse(tok.addsBos());
            int[] eog = tok.endOfGenerationIds();
            assertTrue(Arrays.binarySearch(eog, 151643) >= 0 && Arrays.binarySearch(eog, 151645) >= 0, Arrays.toString(eog));
            assertTrue(tok.isEndOfGeneration(151645));
            assertEquals(151645, tok.eosId());
            // without parse_special the markers are plain text
            int[] plain = tok.encode("<|im_end|>", false, false);
            assertTrue(plain.length > 1 && Arrays.stream(plain).noneMatch(id -> id == 151645), Arrays.toString(plain));
            assertArrayEquals(new int[] {151645}, tok.encode("<|im_end|>", false, true));
        }
        assertArrayEquals(gguf.encode(CHAT, true, true), hf.encode(CHAT, true, true));
    }

    @Test
    void qwen3TokenizerJsonWithArrayMerges() {
        Tokenizer tok = TestData.huggingFace(TestData.SHARED.resolve("tokenizers/qwen3"));
        Tokenizer qwen25 = TestData.gguf(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"));
        // same byte-level vocabulary and merges as Qwen2.5 for ordinary text
        String text = "Hello world! The quick brown fox jumps over the lazy dog. 东京 1234";
        assertArrayEquals(qwen25.encode(text, false, false), tok.encode(text, false, false));
        int think = tok.tokenId("<think>").getAsInt();
        assertFalse(tok.isSpecial(think), "<think> is a user-defined token, rendered in output");
        assertArrayEquals(new int[] {think}, tok.encode("<think>", false, false));
        assertEquals("<think>hi</think>", tok.decode(tok.encode("<think>hi</think>", false, true)));
    }

    @Test
    void spmDefaultsFromGguf() {
        Tokenizer tok = TestData.gguf(TestData.SHARED.resolve("models/stories260K.gguf"));
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());
        assertTrue(tok.addsBos());
        assertArrayEquals(new int[] {2}, tok.endOfGenerationIds());
        assertEquals("<0x0A>", tok.tokenText(13));
        assertArrayEquals(new byte[] {'\n'}, tok.tokenBytes(13));
        assertThrows(IllegalArgumentException.class, () -> tok.tokenText(512));
    }

    @Test
    void unsupportedGgufModelIsNamed() {
        Map<String, GGUFValue> kv = new LinkedHashMap<>();
        kv.put("tokenizer.ggml.model", GGUFValue.string("rwkv-ish"));
        kv.put("tokenizer.ggml.tokens", GGUFValue.array(GGUFValueType.STRING, new String[] {"a", "b"}));
        ModelFormatException e = assertThrows(ModelFormatException.class,
                () -> Tokenizers.fromGGUF(new GGUFMetadata(kv, "fake.gguf")));
        assertTrue(e.getMessage().contains("fake.gguf") && e.getMessage().contains("tokenizer.ggml.model"), e.getMessage());

        kv.put("tokenizer.ggml.model", GGUFValue.string("gpt2"));
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromGGUF(new GGUFMetadata(kv, "fake.gguf")));
        assertTrue(e.getMessage().contains("tokenizer.ggml.merges"), e.getMessage());

        kv.put("tokenizer.ggml.tokens", GGUFValue.array(GGUFValueType.STRING, new String[] {"a", "a"}));
        kv.put("tokenizer.ggml.model", GGUFValue.string("llama"));
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromGGUF(new GGUFMetadata(kv, "fake.gguf")));
        assertTrue(e.getMessage().contains("duplicate"), e.getMessage());
    }

    @Test
    void badHuggingFaceFilesAreNamed(@TempDir Path dir) throws IOException {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"merges\": []}}");
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("'vocab'"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}}");
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("model.merges"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"type\": \"Unigram\"}}");
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("model.type"), e.getMessage());

        Files.writeString(dir.resolve("tokenizer.json"), "{ not json");
        e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(dir));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("JSON"), e.getMessage());
    }

    @Test
    void tinyHandWrittenTokenizerJson(@TempDir Path dir) throws IOException {
        // vocabulary and merges written here; expected ids worked out by hand from the merge ranks
        Files.writeString(dir.resolve("tokenizer.json"), """
                {"added_tokens": [{"id": 7, "content": "<|end|>", "special": true}],
                 "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
                 "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "Ġ": 2, "ab": 3, "Ġab": 4, "abb": 5, "c": 6},
                           "merges": ["a b", ["Ġ", "ab"], "ab b"]}}""");
        Tokenizer tok = Tokenizers.fromHuggingFace(dir);
        assertArrayEquals(new int[] {5, 4, 1, 6}, tok.encode("abb abbc", false, false));
        assertArrayEquals(new int[] {3, 7, 0}, tok.encode("ab<|end|>a", false, true));
        assertEquals("ab<|end|>a", tok.decode(new int[] {3, 7, 0}, true));
        assertEquals("aba", tok.decode(new int[] {3, 7, 0}));
        assertArrayEquals(new int[] {7}, tok.endOfGenerationIds());
    }
}
