package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.arch.RopeFrequencies;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFMetadata;
import dev.tiller.loader.hf.HFConfig;
import dev.tiller.loader.hf.HFModelFolder;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticModelTest {
    private static final Path SHARED = Shared.DIR;
    private static final Path STORIES = SHARED.resolve("models/stories260K.gguf");
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir Path tmp;

    private static float f32(Tensor t, long i) {
        return switch (t.type()) {
            case F32 -> t.data().getAtIndex(F32, i);
            case F16 -> Float.float16ToFloat(t.data().getAtIndex(I16, i));
            case BF16 -> Float.intBitsToFloat((t.data().getAtIndex(I16, i) & 0xFFFF) << 16);
            default -> throw new AssertionError(t.type());
        };
    }

    @Test
    void tinyQwen3GgufHasLlamaCppMetadataAndShapes() {
        Path p = tmp.resolve("q3.gguf");
        SyntheticModel.preset("tiny-qwen3").withSeed(1).writeGguf(p, GGMLType.F32, STORIES);
        try (GGUFFile f = GGUFFile.open(p)) {
            GGUFMetadata m = f.metadata();
            assertEquals("qwen3", m.getString("general.architecture"));
            assertEquals(2, m.getLong("qwen3.block_count"));
            assertEquals(64, m.getLong("qwen3.embedding_length"));
            assertEquals(128, m.getLong("qwen3.feed_forward_length"));
            assertEquals(4, m.getLong("qwen3.attention.head_count"));
            assertEquals(2, m.getLong("qwen3.attention.head_count_kv"));
            assertEquals(32, m.getLong("qwen3.attention.key_length"));
            assertEquals(32, m.getLong("qwen3.attention.value_length"));
            assertEquals(1e6, m.getDouble("qwen3.rope.freq_base"));
            assertEquals(1e-6, m.getDouble("qwen3.attention.layer_norm_rms_epsilon"), 1e-12);
            assertEquals(512, m.getLong("qwen3.context_length"));
            assertEquals(0, m.getLong("general.file_type"));
            // tokenizer copied from stories260K; the tiny preset adopts its 512-token vocabulary
            assertEquals("llama", m.getString("tokenizer.ggml.model"));
            assertEquals(512, m.getStringArray("tokenizer.ggml.tokens").length);
            assertArrayEquals(new long[]{64, 512}, f.tensor("token_embd.weight").ne());
            assertArrayEquals(new long[]{64, 128}, f.tensor("blk.0.attn_q.weight").ne(), "4 heads x head_dim 32");
            assertArrayEquals(new long[]{64, 64}, f.tensor("blk.0.attn_k.weight").ne());
            assertArrayEquals(new long[]{128, 64}, f.tensor("blk.1.attn_output.weight").ne());
            assertArrayEquals(new long[]{32}, f.tensor("blk.1.attn_q_norm.weight").ne());
            assertArrayEquals(new long[]{32}, f.tensor("blk.1.attn_k_norm.weight").ne());
            assertNull(f.tensorOrNull("output.weight"), "tied embeddings");
            assertNull(f.tensorOrNull("blk.0.attn_q.bias"));
            assertEquals(2 + 2 * 11, f.tensors().size());
        }
    }

    @Test
    void qwen2HasBiasesAndLlamaIsUntied() {
        Path q2 = tmp.resolve("q2.gguf"), ll = tmp.resolve("ll.gguf");
        SyntheticModel.preset("tiny-qwen2").writeGguf(q2, GGMLType.F16);
        SyntheticModel.preset("tiny-llama").writeGguf(ll, GGMLType.F32);
        try (GGUFFile a = GGUFFile.open(q2); GGUFFile b = GGUFFile.open(ll)) {
            assertArrayEquals(new long[]{32}, a.tensor("blk.0.attn_k.bias").ne());
            assertEquals(GGMLType.F32, a.tensor("blk.0.attn_k.bias").type(), "1-D tensors stay F32 as llama.cpp writes them");
            assertEquals(GGMLType.F16, a.tensor("blk.0.attn_k.weight").type());
            assertFalse(a.metadata().has("qwen2.attention.key_length"), "head_dim = embd / heads needs no key_length");
            assertEquals(1, a.metadata().getLong("general.file_type"));
            assertArrayEquals(new long[]{64, 256}, b.tensor("output.weight").ne());
            assertEquals(3 + 2 * 9, b.tensors().size());
        }
    }

    @Test
    void weightsAreSeededAndNotDegenerate() throws Exception {
        Path a = tmp.resolve("a.gguf"), b = tmp.resolve("b.gguf"), c = tmp.resolve("c.gguf");
        SyntheticModel.preset("tiny-llama").withSeed(5).writeGguf(a, GGMLType.F32);
        SyntheticModel.preset("tiny-llama").withSeed(5).writeGguf(b, GGMLType.F32);
        SyntheticModel.preset("tiny-llama").withSeed(6).writeGguf(c, GGMLType.F32);
        assertEquals(-1L, Files.mismatch(a, b), "same seed, same bytes");
        try (GGUFFile fa = GGUFFile.open(a); GGUFFile fc = GGUFFile.open(c)) {
            assertNotEquals(-1L, fa.tensor("blk.0.ffn_up.weight").data().mismatch(fc.tensor("blk.0.ffn_up.weight").data()));
            Tensor w = fa.tensor("blk.0.ffn_up.weight");
            double sum = 0, sq = 0;
            long n = w.elementCount();
            for (long i = 0; i < n; i++) {
                double v = f32(w, i);
                sum += v;
                sq += v * v;
            }
            double mean = sum / n, std = Math.sqrt(sq / n - mean * mean);
            assertEquals(0, mean, 0.002);
            assertEquals(0.02, std, 0.002);
            Tensor norm = fa.tensor("blk.0.attn_norm.weight");
            double ns = 0;
            for (long i = 0; i < norm.elementCount(); i++) ns += f32(norm, i);
            assertEquals(1.0, ns / norm.elementCount(), 0.05);
            // different tensors are not copies of each other
            assertNotEquals(-1L, fa.tensor("blk.0.ffn_up.weight").data().mismatch(fa.tensor("blk.0.ffn_gate.weight").data()));
        }
    }

    @Test
    void llamaPermutationIsLlamaCpps() {
        // LlamaModel.permute: reshape(heads, 2, d/2, in).swapaxes(1, 2): with d = 4, rows [0 1 2 3] → [0 2 1 3]
        long[] expected = {0, 2, 1, 3, 4, 6, 5, 7};
        for (int r = 0; r < 8; r++) assertEquals(expected[r], SyntheticModel.hfRowOfPermuted(r, 8, 2), "row " + r);
        // d = 8: [0 4 1 5 2 6 3 7]
        long[] e8 = {0, 4, 1, 5, 2, 6, 3, 7};
        for (int r = 0; r < 8; r++) assertEquals(e8[r], SyntheticModel.hfRowOfPermuted(r, 8, 1));
    }

    private static void assertSameValues(Tensor g, Tensor h, long[] hfRowOfGgufRow) {
        assertArrayEquals(g.ne(), h.ne(), g.name());
        long rowLen = g.ne(0);
        for (long r = 0; r < g.rows(); r++) {
            long hr = hfRowOfGgufRow == null ? r : hfRowOfGgufRow[(int) r];
            for (long i = 0; i < rowLen; i++) {
                assertEquals(f32(h, hr * rowLen + i), f32(g, r * rowLen + i), g.name() + " row " + r + " col " + i);
            }
        }
    }

    @Test
    void ggufAndHfCopiesHoldTheSameWeights() {
        for (String preset : new String[]{"tiny-qwen3", "tiny-llama"}) {
            for (GGMLType type : new GGMLType[]{GGMLType.F32, GGMLType.BF16}) {
                Path gguf = tmp.resolve(preset + type + ".gguf");
                Path dir = tmp.resolve(preset + type);
                SyntheticModel m = SyntheticModel.preset(preset).withSeed(3);
                m.writeGguf(gguf, type);
                m.writeHuggingFace(dir, type);
                try (GGUFFile g = GGUFFile.open(gguf); HFModelFolder h = HFModelFolder.open(dir, m.shape().arch()::ggufName)) {
                    assertEquals(g.tensors().keySet(), h.tensors().keySet());
                    for (Tensor t : g.tensors().values()) {
                        Tensor ht = h.tensor(t.name());
                        assertEquals(type, ht.type());
                        boolean permuted = preset.equals("tiny-llama") && (t.name().endsWith("attn_q.weight") || t.name().endsWith("attn_k.weight"));
                        long[] map = null;
                        if (permuted) {
                            int heads = t.name().endsWith("attn_q.weight") ? 4 : 2;
                            map = new long[(int) t.rows()];
                            // independent statement of llama.cpp's permute: GGUF row h*d + 2i + j = HF row h*d + j*d/2 + i
                            int d = (int) t.rows() / heads;
                            for (int hh = 0; hh < heads; hh++)
                                for (int i = 0; i < d / 2; i++)
                                    for (int j = 0; j < 2; j++) map[hh * d + 2 * i + j] = hh * d + j * (d / 2) + i;
                        }
                        assertSameValues(t, ht, map);
                    }
                    HFConfig c = h.config();
                    assertEquals(preset.equals("tiny-llama") ? "LlamaForCausalLM" : "Qwen3ForCausalLM", c.architecture());
                    assertEquals(g.metadata().getLong(g.metadata().getString("general.architecture") + ".embedding_length"), c.requireInt("hidden_size"));
                }
            }
        }
    }

    @Test
    void hfFolderWithTokenizerAndShards() throws Exception {
        Path dir = tmp.resolve("hf");
        SyntheticModel.preset("tiny-qwen2").withSeed(9).writeHuggingFace(dir, GGMLType.F16,
                TokenizerSource.of(SHARED.resolve("tokenizers/qwen2.5")), 200_000);
        assertTrue(Files.exists(dir.resolve("model.safetensors.index.json")));
        assertTrue(Files.exists(dir.resolve("vocab.json")));
        assertTrue(Files.exists(dir.resolve("merges.txt")));
        assertTrue(Files.exists(dir.resolve("tokenizer_config.json")));
        try (HFModelFolder h = HFModelFolder.open(dir, Architectures.QWEN2::ggufName)) {
            HFConfig c = h.config();
            assertEquals(151936, c.requireInt("vocab_size"));
            assertEquals(151643, c.requireInt("bos_token_id"));
            assertEquals(151645, c.requireInt("eos_token_id"));
            assertTrue(c.requireBoolean("tie_word_embeddings"));
            assertArrayEquals(new long[]{64, 151936}, h.tensor("token_embd.weight").ne());
            assertNotNull(h.tensor("blk.1.attn_v.bias"));
            assertNull(h.tensorOrNull("output.weight"));
        }
    }

    @Test
    void realShapePresetsMatchTheirCheckpoints() {
        // tensor counts of the published GGUF conversions: Qwen2.5-0.5B 290, Qwen2.5-1.5B 338, SmolLM2-135M 272, Llama-3.2-1B 147
        assertEquals(290, SyntheticModel.preset("qwen2.5-0.5b").ggufTensorNames(null).size());
        assertEquals(338, SyntheticModel.preset("qwen2.5-1.5b").ggufTensorNames(null).size());
        assertEquals(272, SyntheticModel.preset("smollm2-135m").ggufTensorNames(null).size());
        assertEquals(147, SyntheticModel.preset("llama-3.2-1b").ggufTensorNames(null).size());
        ModelShape q = Presets.get("qwen2.5-0.5b");
        assertEquals(896, q.embd());
        assertEquals(64, q.headDim());
        // Qwen2.5-1.5B's model card: 1.54B parameters (1,543,714,304 with the tied embedding counted once)
        ModelShape q15 = Presets.get("qwen2.5-1.5b");
        long perLayer = 2L * q15.embd() + (long) q15.embd() * q15.heads() * q15.headDim() + q15.heads() * q15.headDim()
                + 2L * ((long) q15.embd() * q15.kvHeads() * q15.headDim() + q15.kvHeads() * q15.headDim())
                + (long) q15.heads() * q15.headDim() * q15.embd() + 3L * q15.embd() * q15.ff();
        assertEquals(1_543_714_304L, perLayer * q15.layers() + (long) q15.vocab() * q15.embd() + q15.embd());
        ModelShape l = Presets.get("llama-3.2-1b");
        float[] f = llama3Factors(l);
        assertEquals(32, f.length);
        assertEquals(1f, f[0], "high frequencies are not scaled");
        assertEquals(32f, f[31], "the lowest frequencies get the full factor");
        for (int i = 1; i < f.length; i++) assertTrue(f[i] >= f[i - 1], "factors grow with wavelength");
    }

    @Test
    void llama3RopeFreqsTensorIsWritten() {
        // a llama-3.2-1b-like shape at toy size keeps the test fast
        ModelShape s = new ModelShape("toy-llama3", Architectures.LLAMA, 64, 1, 4, 2, 16, 64, 32, 128, 500_000.0, 1e-5, true, new ModelShape.Llama3RopeScaling(32.0, 1.0, 4.0, 8192), null, 0, 1);
        Path p = tmp.resolve("l3.gguf");
        SyntheticModel.of(s).writeGguf(p, GGMLType.F32);
        try (GGUFFile f = GGUFFile.open(p)) {
            Tensor r = f.tensor("rope_freqs.weight");
            assertArrayEquals(new long[]{8}, r.ne());
            float[] expected = llama3Factors(s);
            for (int i = 0; i < 8; i++) assertEquals(expected[i], f32(r, i));
            assertEquals(1f, f32(r, 0));
            assertEquals(32f, f32(r, 7));
        }
    }

    @Test
    void quantizedTypesGoThroughTheQuantizerHook() {
        Path p = tmp.resolve("q8.gguf");
        assertThrows(IllegalArgumentException.class, () -> SyntheticModel.preset("tiny-llama").withQuantizer(null).writeGguf(p, GGMLType.Q8_0));
        // a stand-in quantizer: the plumbing (types, sizes, fallbacks) is what is tested here
        SyntheticModel.preset("tiny-llama").withQuantizer((type, row) -> new byte[(int) type.byteSize(row.length)])
                .writeGguf(p, GGMLType.Q8_0);
        try (GGUFFile f = GGUFFile.open(p)) {
            assertEquals(GGMLType.Q8_0, f.tensor("blk.0.attn_q.weight").type());
            assertEquals(GGMLType.F32, f.tensor("blk.0.attn_norm.weight").type());
            assertEquals(7, f.metadata().getLong("general.file_type"));
            assertEquals(2, f.metadata().getLong("general.quantization_version"));
        }
        assertThrows(IllegalArgumentException.class, () -> SyntheticModel.preset("tiny-llama").writeHuggingFace(tmp.resolve("x"), GGMLType.Q8_0));
        // k-quants need rows of 256: narrower matrices fall back as llama.cpp does (Q4_K → Q5_0)
        ModelShape s = new ModelShape("k", Architectures.LLAMA, 64, 1, 4, 2, 16, 256, 32, 128, 1e4, 1e-5, true, null, null, 0, 1);
        Path k = tmp.resolve("q4k.gguf");
        SyntheticModel.of(s).withQuantizer((type, row) -> new byte[(int) type.byteSize(row.length)]).writeGguf(k, GGMLType.Q4_K);
        try (GGUFFile f = GGUFFile.open(k)) {
            assertEquals(GGMLType.Q4_K, f.tensor("blk.0.ffn_down.weight").type());
            assertEquals(GGMLType.Q5_0, f.tensor("blk.0.ffn_up.weight").type());
            assertEquals(14, f.metadata().getLong("general.file_type"));
        }
    }

    @Test
    void commandLineWritesAModel() throws Exception {
        Path out = tmp.resolve("cli.gguf");
        int rc = new picocli.CommandLine(new ModelsCommand()).execute("write", "--preset", "tiny-qwen2", "--type", "bf16",
                "--format", "gguf", "-o", out.toString(), "--seed", "4", "--tokenizer", STORIES.toString());
        assertEquals(0, rc);
        Path ref = tmp.resolve("api.gguf");
        SyntheticModel.preset("tiny-qwen2").withSeed(4).writeGguf(ref, GGMLType.BF16, STORIES);
        assertEquals(-1L, Files.mismatch(out, ref));
        assertNotEquals(0, new picocli.CommandLine(new ModelsCommand()).execute("write", "--preset", "nope", "-o", out.toString()));
    }

    @Test
    void kernelsQuantizerWritesQuantizedModelsThatDequantizeClose() {
        org.junit.jupiter.api.Assumptions.assumeTrue(KernelsQuantizer.get() != null, "kernels Quantizer not on the class path yet");
        Path f32 = tmp.resolve("ref.gguf");
        SyntheticModel.preset("tiny-llama").withSeed(2).writeGguf(f32, GGMLType.F32);
        for (GGMLType type : new GGMLType[]{GGMLType.Q8_0, GGMLType.Q4_0}) {
            Path q = tmp.resolve(type + ".gguf");
            SyntheticModel.preset("tiny-llama").withSeed(2).writeGguf(q, type);
            try (GGUFFile a = GGUFFile.open(f32); GGUFFile b = GGUFFile.open(q)) {
                Tensor ref = a.tensor("blk.0.ffn_up.weight");
                Tensor qt = b.tensor("blk.0.ffn_up.weight");
                assertEquals(type, qt.type());
                int n = (int) ref.elementCount();
                float[] deq = new float[n];
                dev.tiller.kernels.quant.QuantFormat.of(type, qt.name()).dequantize(qt.data(), 0, deq, 0, n);
                // weights are N(0, 0.02): a 4-bit block step stays under ~0.02, an 8-bit one far below
                double tol = type == GGMLType.Q8_0 ? 0.001 : 0.012;
                for (int i = 0; i < n; i++) assertEquals(f32(ref, i), deq[i], tol, type + " element " + i);
            }
        }
    }

    /** Without a named tokenizer a GGUF gets the built-in byte-level one: it loads, encodes any text and decodes it back. */
    @Test
    void aGgufWrittenWithoutATokenizerLoadsAndRoundTripsText() {
        for (String preset : new String[]{"tiny-llama", "tiny-qwen3"}) {
            Path f = tmp.resolve(preset + ".gguf");
            SyntheticModel.preset(preset).writeGguf(f, GGMLType.F32);
            try (GGUFFile g = GGUFFile.open(f)) {
                var tok = dev.tiller.tokenizer.Tokenizers.fromGGUF(g.metadata());
                String text = "Héllo, wörld! 123";
                int[] ids = tok.encode(text, false, false);
                assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length, preset + ": one token per byte");
                assertEquals(text, tok.decode(ids), preset);
            }
        }
    }

    /**
     * q4_k_m as llama.cpp assigns it, on an 8-block model with 256-wide rows: output Q6_K; attn_v and ffn_down Q6_K in
     * blocks 0, 3, 6 and 7 (the first eighth, every third after it, the last eighth), Q4_K elsewhere; the rest Q4_K.
     */
    @Test
    void q4KMMixFollowsLlamaCppsAssignment() {
        ModelShape shape = new ModelShape("mix-test", Architectures.LLAMA, 256, 8, 4, 2, 64, 512, 256, 512, 10000.0, 1e-5, false, null, null, 1, 2);
        Path f = tmp.resolve("mix.gguf");
        SyntheticModel.of(shape).writeGguf(f, QuantMix.Q4_K_M, null);
        try (GGUFFile g = GGUFFile.open(f)) {
            var t = g.tensors();
            assertEquals(GGMLType.Q6_K, t.get("output.weight").type());
            assertEquals(GGMLType.Q4_K, t.get("token_embd.weight").type());
            for (int l = 0; l < 8; l++) {
                GGMLType more = l == 0 || l == 3 || l == 6 || l == 7 ? GGMLType.Q6_K : GGMLType.Q4_K;
                assertEquals(more, t.get("blk." + l + ".attn_v.weight").type(), "attn_v of block " + l);
                assertEquals(more, t.get("blk." + l + ".ffn_down.weight").type(), "ffn_down of block " + l);
                assertEquals(GGMLType.Q4_K, t.get("blk." + l + ".attn_q.weight").type());
                assertEquals(GGMLType.Q4_K, t.get("blk." + l + ".ffn_up.weight").type());
            }
            assertEquals(15, g.metadata().getLong("general.file_type"), "LLAMA_FTYPE_MOSTLY_Q4_K_M");
        }
    }

    @Test
    void q4KMMixOfATiedModelGivesTheEmbeddingTheOutputsType() {
        // llama.cpp: with no output.weight, token_embd is the output matrix and takes Q6_K
        ModelShape shape = new ModelShape("mix-tied", Architectures.LLAMA, 256, 8, 4, 2, 64, 512, 256, 512, 10000.0, 1e-5, true, null, null, 1, 2);
        Path f = tmp.resolve("tied.gguf");
        SyntheticModel.of(shape).writeGguf(f, QuantMix.Q4_K_M, null);
        try (GGUFFile g = GGUFFile.open(f)) {
            assertEquals(null, g.tensors().get("output.weight"));
            assertEquals(GGMLType.Q6_K, g.tensors().get("token_embd.weight").type());
        }
    }

    private static float[] llama3Factors(ModelShape s) {
        ModelShape.Llama3RopeScaling sc = s.ropeScaling();
        return RopeFrequencies.llama3Factors(s.headDim(), s.ropeTheta(), sc.factor(), sc.lowFreqFactor(), sc.highFreqFactor(), sc.originalContextLength());
    }
}
