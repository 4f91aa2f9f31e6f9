package dev.tiller.loader.gguf;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Reads the real GGUF files in ../shared; expected shapes come from shared/README.md. */
class SharedModelsTest {
    private static final Path MODELS = Shared.resolve("models");

    private static void checkLlamaBlocks(GGUFFile f, int blocks, int embd, int kvDim, int ff, int vocab) {
        assertArrayEquals(new long[]{embd, vocab}, f.tensor("token_embd.weight").ne());
        assertArrayEquals(new long[]{embd}, f.tensor("output_norm.weight").ne());
        for (int b = 0; b < blocks; b++) {
            assertArrayEquals(new long[]{embd, embd}, f.tensor("blk." + b + ".attn_q.weight").ne());
            assertArrayEquals(new long[]{embd, kvDim}, f.tensor("blk." + b + ".attn_k.weight").ne());
            assertArrayEquals(new long[]{embd, kvDim}, f.tensor("blk." + b + ".attn_v.weight").ne());
            assertArrayEquals(new long[]{embd, embd}, f.tensor("blk." + b + ".attn_output.weight").ne());
            assertArrayEquals(new long[]{embd, ff}, f.tensor("blk." + b + ".ffn_gate.weight").ne());
            assertArrayEquals(new long[]{ff, embd}, f.tensor("blk." + b + ".ffn_down.weight").ne());
            assertArrayEquals(new long[]{embd}, f.tensor("blk." + b + ".attn_norm.weight").ne());
        }
        assertNull(f.tensorOrNull("blk." + blocks + ".attn_q.weight"));
    }

    @Test
    void stories260K() {
        // llama, 5 blocks, n_embd 64, 8 heads / 4 KV heads (head dim 8), vocab 512, F32
        try (GGUFFile f = GGUFFile.open(MODELS.resolve("stories260K.gguf"))) {
            assertEquals("llama", f.metadata().getString("general.architecture"));
            assertEquals(64, f.metadata().getLong("llama.embedding_length"));
            assertEquals(5, f.metadata().getLong("llama.block_count"));
            assertEquals(8, f.metadata().getLong("llama.attention.head_count"));
            assertEquals(4, f.metadata().getLong("llama.attention.head_count_kv"));
            assertEquals(512, f.metadata().getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(3 + 5 * 9, f.tensors().size());
            int ff = (int) f.metadata().getLong("llama.feed_forward_length");
            checkLlamaBlocks(f, 5, 64, 32, ff, 512);
            for (Tensor t : f.tensors().values()) assertEquals(GGMLType.F32, t.type(), t.name());
        }
    }

    @Test
    void arithMini() {
        // llama, 4 blocks, n_embd 128, 4 heads / 2 KV heads (head dim 32), stories260K's vocab of 512, F32
        try (GGUFFile f = GGUFFile.open(MODELS.resolve("arith-mini.gguf"))) {
            assertEquals(128, f.metadata().getLong("llama.embedding_length"));
            assertEquals(4, f.metadata().getLong("llama.block_count"));
            assertEquals(3 + 4 * 9, f.tensors().size());
            checkLlamaBlocks(f, 4, 128, 64, (int) f.metadata().getLong("llama.feed_forward_length"), 512);
        }
    }

    @Test
    void llama2TinyRandom() {
        // llama, 1 block, n_embd 8, F16 tensors, the 32000-token Llama-2 vocab
        try (GGUFFile f = GGUFFile.open(MODELS.resolve("llama-2-tiny-random.gguf"))) {
            assertEquals(32000, f.metadata().getStringArray("tokenizer.ggml.tokens").length);
            assertEquals(12, f.tensors().size());
            checkLlamaBlocks(f, 1, 8, 8, (int) f.metadata().getLong("llama.feed_forward_length"), 32000);
            assertEquals(GGMLType.F16, f.tensor("blk.0.attn_q.weight").type());
            assertEquals(GGMLType.F16, f.tensor("token_embd.weight").type());
        }
    }

    @Test
    void tinyRandomQwen2() {
        // qwen2, 2 blocks, n_embd 64, 4 heads / 2 KV (head dim 16), QKV biases, tied embeddings, F16 embeddings,
        // the real Qwen2.5 tokenizer with 151936 ids
        try (GGUFFile f = GGUFFile.open(MODELS.resolve("tiny-random-qwen2.gguf"))) {
            assertEquals("qwen2", f.metadata().getString("general.architecture"));
            assertEquals(1e6, f.metadata().getDouble("qwen2.rope.freq_base"));
            assertEquals(2 + 2 * 12, f.tensors().size());
            assertNull(f.tensorOrNull("output.weight"), "tied embeddings");
            Tensor emb = f.tensor("token_embd.weight");
            assertEquals(GGMLType.F16, emb.type());
            assertArrayEquals(new long[]{64, 151936}, emb.ne());
            assertArrayEquals(new long[]{32}, f.tensor("blk.1.attn_k.bias").ne());
            assertArrayEquals(new long[]{64}, f.tensor("blk.1.attn_q.bias").ne());
            assertEquals(151936, f.metadata().getStringArray("tokenizer.ggml.tokens").length);
            assertEquals("gpt2", f.metadata().getString("tokenizer.ggml.model"));
        }
    }
}
