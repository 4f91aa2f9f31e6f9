package dev.tiller.loader.fuzz;

import dev.tiller.testsupport.Slow;
import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes Hugging Face tokenizer loading: tokenizer.json, vocab.json + merges.txt, and the tokenizer_config.json /
 * config.json / generation_config.json that go with them. An input is a whole folder ({@link Seeds#files}); a
 * tokenizer that loads must then encode and decode text.
 */
class TokenizerFuzzTest {
    static final int KEEP = 400;

    @BeforeAll
    static void seedJazzer() {
        if (!JazzerCorpus.fuzzing()) return;
        JazzerCorpus.seed(TokenizerFuzzTest.class, "tokenizerJson", Seeds.tokenizerJson(KEEP));
        JazzerCorpus.seed(TokenizerFuzzTest.class, "vocabMerges", Seeds.vocabMerges(KEEP));
        JazzerCorpus.seed(TokenizerFuzzTest.class, "tokenizerConfig", configSeeds());
    }

    /** Small folders whose mutations land mostly in tokenizer_config.json and config.json. */
    static List<byte[]> configSeeds() {
        List<byte[]> out = new java.util.ArrayList<>();
        for (byte[] seed : Seeds.vocabMerges(KEEP)) {
            Map<String, byte[]> f = Seeds.splitFiles(seed);
            if (f.get("vocab.json").length < 1000) out.add(seed);
        }
        String tc = "{\"tokenizer_class\":\"Qwen2Tokenizer\",\"bos_token\":null,\"eos_token\":{\"content\":\"<|endoftext|>\",\"special\":true},"
                + "\"pad_token\":\"<|endoftext|>\",\"add_bos_token\":false,\"add_eos_token\":true,\"added_tokens_decoder\":{\"3\":{\"content\":\"<|endoftext|>\",\"special\":true},"
                + "\"4\":{\"content\":\"<|im_start|>\",\"special\":true},\"5\":{\"content\":\"<think>\",\"special\":false}}}";
        String config = "{\"vocab_size\":8,\"bos_token_id\":3,\"eos_token_id\":[3,4],\"pad_token_id\":null}";
        out.add(Seeds.files(Map.of("vocab.json", "{\"a\":0,\"b\":1,\"ab\":2}".getBytes(StandardCharsets.UTF_8),
                "merges.txt", "#version: 0.2\na b\n".getBytes(StandardCharsets.UTF_8),
                "tokenizer_config.json", tc.getBytes(StandardCharsets.UTF_8), "config.json", config.getBytes(StandardCharsets.UTF_8),
                "generation_config.json", "{\"eos_token_id\":[4,3]}".getBytes(StandardCharsets.UTF_8))));
        return out;
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void tokenizerJson(byte[] data) {
        FuzzTargets.hfTokenizer(data);
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void vocabMerges(byte[] data) {
        FuzzTargets.hfTokenizer(data);
    }

    @Slow
    @FuzzTest(maxDuration = "30s")
    void tokenizerConfig(byte[] data) {
        FuzzTargets.hfTokenizer(data);
    }

    @Test
    void multiFileInputsRoundTrip() {
        byte[] joined = Seeds.files(Map.of("a.json", new byte[]{1, 2}, "b", new byte[0]));
        Map<String, byte[]> back = Seeds.splitFiles(joined);
        assertEquals(2, back.size());
        assertEquals(2, back.get("a.json").length);
    }

    @Slow
    @Test
    void seededTokenizerJson() {
        List<byte[]> seeds = Seeds.tokenizerJson(KEEP);
        assertTrue(seeds.size() >= 3, "qwen3 and smollm2 give seeds");
        new SeededFuzzer("tokenizer-json", seeds, true, FuzzTargets::hfTokenizer).run(3, 400, Duration.ofSeconds(6));
    }

    @Slow
    @Test
    void seededVocabMerges() {
        List<byte[]> seeds = Seeds.vocabMerges(KEEP);
        assertTrue(seeds.size() >= 2, "qwen2.5 gives a seed");
        new SeededFuzzer("vocab-merges", seeds, true, FuzzTargets::hfTokenizer).run(4, 400, Duration.ofSeconds(5));
    }

    @Slow
    @Test
    void seededTokenizerConfig() {
        new SeededFuzzer("tokenizer-config", configSeeds(), true, FuzzTargets::hfTokenizer).run(5, 1500, Duration.ofSeconds(5));
    }
}
