package dev.tiller.models.arch;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The descriptions' name mappings, lookups and shapes. */
class ArchitecturesTest {

    @Test
    void llamaNamesMapToLlamaCppNamesAndBack() {
        String[][] pairs = {
                {"model.embed_tokens.weight", "token_embd.weight"},
                {"model.norm.weight", "output_norm.weight"},
                {"lm_head.weight", "output.weight"},
                {"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
                {"model.layers.11.self_attn.k_proj.bias", "blk.11.attn_k.bias"},
                {"model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight"},
                {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
                {"model.layers.5.input_layernorm.weight", "blk.5.attn_norm.weight"},
                {"model.layers.5.post_attention_layernorm.weight", "blk.5.ffn_norm.weight"},
                {"model.layers.7.mlp.gate_proj.weight", "blk.7.ffn_gate.weight"},
                {"model.layers.7.mlp.up_proj.weight", "blk.7.ffn_up.weight"},
                {"model.layers.7.mlp.down_proj.weight", "blk.7.ffn_down.weight"},
        };
        for (String[] p : pairs) {
            assertEquals(p[1], Architectures.LLAMA.ggufName(p[0]));
            assertEquals(p[0], Architectures.LLAMA.hfName(p[1]));
        }
        assertEquals("blk.2.attn_q_norm.weight", Architectures.QWEN3.ggufName("model.layers.2.self_attn.q_norm.weight"));
        assertEquals("model.layers.0.mystery.weight", Architectures.LLAMA.ggufName("model.layers.0.mystery.weight"));
        assertEquals("something", Architectures.LLAMA.ggufName("something"));
        assertEquals("input_layernorm.weight", Architectures.LLAMA.ggufName("input_layernorm.weight"), "a layer suffix alone is no name");
    }

    /** The same HF name means a different weight in gemma2: its post_attention_layernorm is the sandwich norm. */
    @Test
    void gemma2NamesFollowLlamaCpp() {
        Architecture g = Architectures.GEMMA2;
        assertEquals("blk.4.post_attention_norm.weight", g.ggufName("model.layers.4.post_attention_layernorm.weight"));
        assertEquals("blk.4.ffn_norm.weight", g.ggufName("model.layers.4.pre_feedforward_layernorm.weight"));
        assertEquals("blk.4.post_ffw_norm.weight", g.ggufName("model.layers.4.post_feedforward_layernorm.weight"));
        assertEquals("model.layers.4.post_feedforward_layernorm.weight", g.hfName("blk.4.post_ffw_norm.weight"));
        assertFalse(g.has(Weight.OUTPUT), "gemma2 always ties its embeddings");
        assertEquals(1f, g.hfNormOffset());
        assertTrue(g.isSlidingLayer(0) && !g.isSlidingLayer(1) && g.isSlidingLayer(2));
        assertFalse(Architectures.LLAMA.isSlidingLayer(0));
        assertTrue(g.reads(ConfigKey.ATTN_LOGIT_SOFTCAPPING) && !Architectures.QWEN2.reads(ConfigKey.ATTN_LOGIT_SOFTCAPPING));
        assertEquals("gemma2.attention.sliding_window", ConfigKey.SLIDING_WINDOW.ggufKey(g));
        assertEquals(144, Gemma2.defaultQueryPreAttnScalar(46, 4608, 32, 128), "gemma-2-27b");
        assertEquals(256, Gemma2.defaultQueryPreAttnScalar(26, 2304, 8, 256), "gemma-2-2b");
    }

    @Test
    void lookups() {
        assertSame(Architectures.MISTRAL, Architectures.byHfModelType("mistral"));
        assertSame(Architectures.MISTRAL, Architectures.byGgufName("mistral"));
        assertTrue(Architectures.MISTRAL.isSlidingLayer(0) && Architectures.MISTRAL.isSlidingLayer(1));
        assertEquals("mistral.attention.sliding_window", ConfigKey.SLIDING_WINDOW.ggufKey(Architectures.MISTRAL));
        assertSame(Architectures.GEMMA2, Architectures.byGgufName("gemma2"));
        assertSame(Architectures.QWEN3, Architectures.byHfModelType("qwen3"));
        assertNull(Architectures.byGgufName("gpt2"));
        assertTrue(Architectures.supported().contains("gemma2"));
    }

    @Test
    void shapesComeFromTheSizes() {
        Sizes s = new Sizes() {
            public int dim() { return 64; }
            public int qDim() { return 128; }
            public int kvDim() { return 64; }
            public int headDim() { return 32; }
            public int ffnDim() { return 96; }
            public int vocabSize() { return 300; }
            public int ropeDims() { return 32; }
        };
        assertArrayEquals(new long[]{128, 64}, Weight.ATTN_Q.shape(s));
        assertArrayEquals(new long[]{64, 128}, Weight.ATTN_OUTPUT.shape(s));
        assertArrayEquals(new long[]{300, 64}, Weight.TOKEN_EMBD.shape(s));
        assertArrayEquals(new long[]{32}, Weight.ATTN_K_NORM.shape(s));
        assertArrayEquals(new long[]{16}, Weight.ROPE_FREQS.shape(s));
        assertEquals("blk.3.ffn_down.weight", Weight.FFN_DOWN.ggufName(3));
        assertEquals("output_norm.weight", Weight.OUTPUT_NORM.ggufName(3));
    }

    @Test
    void ropeFrequencies() {
        double[] f = RopeFrequencies.inverse(8, 10000, 1, null);
        assertEquals(1.0, f[0]);
        assertEquals(Math.pow(10000, -0.75), f[3], 1e-15);
        double[] scaled = RopeFrequencies.inverse(8, 10000, 0.5, new float[]{1, 1, 2, 4});
        assertEquals(0.5 * f[3] / 4, scaled[3], 1e-15);
        float[] l3 = RopeFrequencies.llama3Factors(64, 500_000, 32, 1, 4, 8192);
        assertEquals(1f, l3[0]);
        assertEquals(32f, l3[31]);
    }

    @Test
    void blockOrderNamesTheHooks() {
        String g = String.join(" → ", Architectures.GEMMA2.blockOrder());
        assertTrue(g.indexOf("post_attention_norm") < g.indexOf("hook_attn_out"), g);
        assertTrue(g.contains("gelu_pytorch_tanh") && g.contains("sliding window"), g);
        assertFalse(String.join(" ", Architectures.LLAMA.blockOrder()).contains("post_ffw_norm"));
    }
}
