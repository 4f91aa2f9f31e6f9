package dev.tiller.models.synthetic;

import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFMetadata;
import dev.tiller.loader.gguf.GGUFValue;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The HF → GGUF tokenizer conversion, checked against tiny-random-qwen2.gguf, whose tokenizer metadata llama.cpp's
 * gguf-py wrote from the same Qwen2.5 tokenizer files.
 */
class HFTokenizerConverterTest {
    private static final Path SHARED = Shared.DIR;

    @Test
    void qwen25FolderMatchesWhatLlamaCppWrote() {
        TokenizerSource src = TokenizerSource.of(SHARED.resolve("tokenizers/qwen2.5"));
        assertEquals(151936, src.vocabSize());
        Map<String, GGUFValue> ours = src.ggufMetadata(151936);
        try (GGUFFile ref = GGUFFile.open(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            GGUFMetadata m = ref.metadata();
            assertEquals(m.getString("tokenizer.ggml.model"), ours.get("tokenizer.ggml.model").value());
            assertEquals(m.getString("tokenizer.ggml.pre"), ours.get("tokenizer.ggml.pre").value());
            assertArrayEquals(m.getStringArray("tokenizer.ggml.tokens"), (String[]) ours.get("tokenizer.ggml.tokens").value());
            assertArrayEquals(m.getIntArray("tokenizer.ggml.token_type"), (int[]) ours.get("tokenizer.ggml.token_type").value());
            assertArrayEquals(m.getStringArray("tokenizer.ggml.merges"), (String[]) ours.get("tokenizer.ggml.merges").value());
            for (String k : new String[]{"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"}) {
                assertEquals(m.getLong(k), ours.get(k).asLong(), k);
            }
            assertEquals(m.getBoolean("tokenizer.ggml.add_bos_token", true), ours.get("tokenizer.ggml.add_bos_token").value());
            assertEquals(m.getString("tokenizer.chat_template"), ours.get("tokenizer.chat_template").value());
        }
    }

    @Test
    void qwen3TokenizerJson() {
        TokenizerSource src = TokenizerSource.of(SHARED.resolve("tokenizers/qwen3"));
        Map<String, GGUFValue> m = src.ggufMetadata(src.vocabSize());
        String[] tokens = (String[]) m.get("tokenizer.ggml.tokens").value();
        int[] types = (int[]) m.get("tokenizer.ggml.token_type").value();
        assertEquals("qwen2", m.get("tokenizer.ggml.pre").value());
        assertEquals("<|endoftext|>", tokens[151643]);
        assertEquals(3, types[151643], "special added token is CONTROL");
        assertEquals("<think>", tokens[151667]);
        assertEquals(4, types[151667], "non-special added token is USER_DEFINED");
        assertEquals("!", tokens[0]);
        assertEquals(1, types[0]);
        assertEquals("Ġ Ġ", ((String[]) m.get("tokenizer.ggml.merges").value())[0], "pair-form merges joined by a space");
        assertEquals(151645, m.get("tokenizer.ggml.eos_token_id").asLong());
        assertTrue(((String) m.get("tokenizer.chat_template").value()).contains("<think>"));
        // padded to a model's larger vocabulary with unused tokens
        Map<String, GGUFValue> padded = src.ggufMetadata(151936);
        String[] pt = (String[]) padded.get("tokenizer.ggml.tokens").value();
        assertEquals(151936, pt.length);
        assertEquals("[PAD151935]", pt[151935]);
        assertEquals(5, ((int[]) padded.get("tokenizer.ggml.token_type").value())[151935]);
        assertThrows(IllegalArgumentException.class, () -> src.ggufMetadata(1000));
    }

    @Test
    void smollm2TokenizerJson() {
        TokenizerSource src = TokenizerSource.of(SHARED.resolve("tokenizers/smollm2"));
        assertEquals(49152, src.vocabSize());
        Map<String, GGUFValue> m = src.ggufMetadata(49152);
        assertEquals("smollm", m.get("tokenizer.ggml.pre").value());
        assertEquals("<|im_start|>", ((String[]) m.get("tokenizer.ggml.tokens").value())[1]);
        assertEquals("Ġ t", ((String[]) m.get("tokenizer.ggml.merges").value())[0]);
        // from config.json: bos 1, eos 2, pad 2
        assertEquals(1, m.get("tokenizer.ggml.bos_token_id").asLong());
        assertEquals(2, m.get("tokenizer.ggml.eos_token_id").asLong());
    }
}
