package dev.tiller.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Model;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.synthetic.ModelShape;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Each architecture against an independent float64 forward, and the GGUF and Hugging Face copies of one model against
 * each other.
 */
class ArchitectureTest {
    static final Path SHARED = Shared.DIR;
    static final int[] TOKENS = {5, 17, 99, 3, 250, 42, 7, 1000, 12, 64, 300, 2};

    @TempDir
    static Path tmp;

    /** The float64 reference itself agrees with llama.cpp, so agreeing with it means something. */
    @Test
    void float64ReferenceMatchesLlamaCppOnStories() throws Exception {
        try (GGUFFile f = GGUFFile.open(SHARED.resolve("models/stories260K.gguf"))) {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            JsonNode ref = new ObjectMapper().readTree(SHARED.resolve("reference/stories260K/tom.json").toFile());
            int[] prompt = Reference.ints(ref.get("prompt_tokens"));
            float[] expected = Reference.floats(SHARED.resolve("reference/stories260K/tom.prompt_logits.f32"));
            double[][] logits = new Float64Reference(c, f).forward(prompt);
            double max = 0;
            for (int t = 0; t < prompt.length; t++) {
                for (int i = 0; i < c.vocabSize(); i++) max = Math.max(max, Math.abs(logits[t][i] - expected[t * c.vocabSize() + i]));
            }
            assertTrue(max < 3e-2, "float64 reference vs llama.cpp: " + max);
        }
    }

    @Slow
    @ParameterizedTest
    @CsvSource({"tiny-llama, smollm2", "tiny-qwen2, qwen2.5", "tiny-qwen3, qwen3"})
    void engineMatchesFloat64Reference(String preset, String tokenizer) {
        Path gguf = tmp.resolve(preset + ".gguf");
        SyntheticModel.preset(preset).withSeed(7).writeGguf(gguf, GGMLType.F32, SHARED.resolve("tokenizers/" + tokenizer));
        try (Model m = Model.load(gguf)) {
            ModelConfig c = m.config();
            float[] got = m.newSession().prefillAllLogits(TOKENS);
            double[][] want = new Float64Reference(c, m.tensors()).forward(TOKENS);
            assertClose(want, got, c.vocabSize(), preset + " engine vs float64");
        }
    }

    @Slow
    @ParameterizedTest
    @CsvSource({"tiny-llama, smollm2", "tiny-qwen2, qwen2.5", "tiny-qwen3, qwen3"})
    void ggufAndHuggingFaceCopiesGiveTheSameLogits(String preset, String tokenizer) {
        Path gguf = tmp.resolve(preset + "-pair.gguf");
        Path hf = tmp.resolve(preset + "-hf");
        SyntheticModel model = SyntheticModel.preset(preset).withSeed(11);
        model.writeGguf(gguf, GGMLType.F32, SHARED.resolve("tokenizers/" + tokenizer));
        model.writeHuggingFace(hf, GGMLType.F32, SHARED.resolve("tokenizers/" + tokenizer));
        try (Model a = Model.load(gguf); Model b = Model.load(hf)) {
            assertEquals(a.config().vocabSize(), b.config().vocabSize());
            String text = "Hello world, this is a test of 123 tokens!";
            int[] ta = a.tokenizer().encode(text, true, true), tb = b.tokenizer().encode(text, true, true);
            assertArrayEquals(ta, tb, "the GGUF and HF tokenizers disagree");
            float[] la = a.newSession().prefillAllLogits(ta);
            float[] lb = b.newSession().prefillAllLogits(tb);
            double max = 0, scale = 0;
            for (int i = 0; i < la.length; i++) {
                max = Math.max(max, Math.abs(la[i] - lb[i]));
                scale = Math.max(scale, Math.abs(la[i]));
            }
            assertTrue(scale > 0, "logits are all zero");
            assertTrue(max <= 1e-4 * scale + 1e-5, preset + ": GGUF vs HF logits differ by " + max + " (scale " + scale + ")");
        }
    }

    /**
     * Llama 3.1 rope scaling two ways: the GGUF copy carries the writer's rope_freqs.weight tensor, the HF copy only
     * config.json's rope_scaling recipe, which the engine turns into factors itself. The small original context makes
     * the scaling change most frequencies of a 16-wide head.
     */
    @Test
    void llama3RopeScalingFromTensorAndFromConfigAgree() {
        ModelShape base = SyntheticModel.preset("tiny-llama").shape();
        ModelShape scaled = new ModelShape("tiny-llama3-rope", Architectures.LLAMA, base.embd(), base.layers(), base.heads(), base.kvHeads(),
                base.headDim(), base.ff(), base.vocab(), base.contextLength(), base.ropeTheta(), base.rmsEps(), true,
                new ModelShape.Llama3RopeScaling(8.0, 1.0, 4.0, 32), null, base.bosTokenId(), base.eosTokenId());
        Path gguf = tmp.resolve("rope3.gguf"), hf = tmp.resolve("rope3-hf");
        SyntheticModel m = SyntheticModel.of(scaled).withSeed(3);
        Path tok = SHARED.resolve("tokenizers/smollm2");
        m.writeGguf(gguf, GGMLType.F32, tok);
        m.writeHuggingFace(hf, GGMLType.F32, tok);
        try (Model a = Model.load(gguf); Model b = Model.load(hf)) {
            assertNotNull(a.config().ropeFreqFactors(), "GGUF copy has rope_freqs.weight");
            assertNotNull(b.config().ropeFreqFactors(), "HF copy has rope_scaling");
            assertArrayEquals(a.config().ropeFreqFactors(), b.config().ropeFreqFactors(), 1e-6f);
            float[] f = a.config().ropeFreqFactors();
            assertEquals(1f, f[0], "the fastest rotation is not scaled");
            assertEquals(8f, f[f.length - 1], 1e-6f, "the slowest rotation is scaled by the factor");
            float[] la = a.newSession().prefillAllLogits(TOKENS), lb = b.newSession().prefillAllLogits(TOKENS);
            double max = 0;
            for (int i = 0; i < la.length; i++) max = Math.max(max, Math.abs(la[i] - lb[i]));
            assertTrue(max < 1e-4, "logits differ by " + max);
        }
    }

    static void assertClose(double[][] want, float[] got, int vocab, String what) {
        double max = 0, scale = 0;
        for (int t = 0; t < want.length; t++) {
            for (int i = 0; i < vocab; i++) {
                max = Math.max(max, Math.abs(want[t][i] - got[t * vocab + i]));
                scale = Math.max(scale, Math.abs(want[t][i]));
            }
        }
        assertTrue(scale > 1e-3, what + ": logits are degenerate (max |logit| " + scale + ")");
        assertTrue(max <= 1e-4 * scale + 1e-5, what + ": max abs difference " + max + " at logit scale " + scale);
    }
}
