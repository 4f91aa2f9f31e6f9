package dev.tiller.engine.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.chat.ChatTemplateException;
import dev.tiller.engine.model.MemoryBudgetExceededException;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.fuzz.FuzzTargets;
import dev.tiller.loader.fuzz.JazzerCorpus;
import dev.tiller.loader.fuzz.SeededFuzzer;
import dev.tiller.loader.fuzz.Seeds;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes a whole GGUF model through the engine: config keys, weight shapes and types, tokenizer, chat template, then
 * a short forward pass. Acceptable outcomes: a working model, a ModelFormatException, a ChatTemplateException from
 * rendering the file's template, or a MemoryBudgetExceededException.
 */
class ModelFuzzTest {
    static List<byte[]> seeds() {
        List<byte[]> out = new ArrayList<>();
        Path tok = Seeds.shared().resolve("models/stories260K.gguf");
        try {
            for (String preset : new String[]{"tiny-llama", "tiny-qwen2", "tiny-qwen3"}) {
                for (GGMLType type : new GGMLType[]{GGMLType.F32, GGMLType.Q8_0}) {
                    Path p = Files.createTempFile(FuzzTargets.tmp(), "seed-model", ".gguf");
                    try {
                        SyntheticModel.preset(preset).withSeed(3).withVocab(512).writeGguf(p, type, tok);
                        out.add(Files.readAllBytes(p));
                    } finally {
                        Files.deleteIfExists(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static void target(byte[] data) {
        FuzzTargets.onTempFile("fuzz-model", ".gguf", data, p -> {
            try (Model m = Model.load(p)) {
                int[] ids = m.tokenizer().encode("Once upon a time", true, true);
                if (ids.length == 0) ids = new int[]{0};
                try (Session s = m.newSession(Math.min(32, m.config().contextLength()))) {
                    s.prefill(java.util.Arrays.copyOf(ids, Math.min(ids.length, s.contextSize())));
                }
                if (m.chatTemplate().isPresent()) {
                    try {
                        m.chatTemplate().get().render(List.of(new ChatMessage("user", "hi")), true);
                    } catch (ChatTemplateException expected) {
                        // the file's template failed with a clear message
                    }
                }
            } catch (ModelFormatException | MemoryBudgetExceededException expected) {
                // a clear rejection
            }
        });
    }

    @BeforeAll
    static void seedJazzer() {
        JazzerCorpus.seed(ModelFuzzTest.class, "model", seeds());
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void model(byte[] data) {
        target(data);
    }

    /** Finding (Jazzer, 10-minute run): a zero-width weight tensor with 2^40 rows made WeightMatrix throw ArithmeticException. */
    @Test
    void aMatrixWithMoreThanIntRowsIsAFormatError() {
        dev.tiller.loader.Tensor t = new dev.tiller.loader.Tensor("blk.0.attn_q.weight", GGMLType.F32, new long[]{0, 1L << 40},
                java.lang.foreign.MemorySegment.NULL, "m.gguf");
        ModelFormatException e = org.junit.jupiter.api.Assertions.assertThrows(ModelFormatException.class,
                () -> new dev.tiller.kernels.WeightMatrix(t));
        assertTrue(e.getMessage().contains("attn_q") && e.getMessage().contains("too large"), e.getMessage());
    }

    @Slow
    @Test
    void seededMutations() {
        List<byte[]> seeds = seeds();
        long execs = new SeededFuzzer("model", seeds, false, ModelFuzzTest::target).run(7, 1500, Duration.ofSeconds(8));
        assertTrue(execs > seeds.size());
    }
}
