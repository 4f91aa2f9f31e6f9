package dev.tiller.loader.fuzz;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.tokenizer.Tokenizers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One test per fuzzing finding, each written from the finding's cause (the raw crashing inputs are also replayed by
 * the Jazzer regression runs from src/test/resources/.../*Inputs). See docs/hardening.md for the list.
 */
class FindingsRegressionTest {
    @TempDir Path tmp;

    /** Finding 1 (seeded GGUF fuzzer): a tensor with ne[0] = 0 made Tensor.rows() divide by zero. */
    @Test
    void zeroWidthTensorHasRows() {
        Tensor t = new Tensor("t", GGMLType.F32, new long[]{0, 5, 2}, MemorySegment.NULL, "test");
        assertEquals(10, t.rows(), "rows = 5 * 2, whatever the row length");
        assertEquals(0, t.elementCount());
    }

    private Path folder(String tokenizerConfig, String config) throws Exception {
        Path d = Files.createTempDirectory(tmp, "tok");
        Files.writeString(d.resolve("vocab.json"), "{\"a\":0,\"b\":1,\"ab\":2,\"<|endoftext|>\":3}");
        Files.writeString(d.resolve("merges.txt"), "a b\n");
        if (tokenizerConfig != null) Files.writeString(d.resolve("tokenizer_config.json"), tokenizerConfig);
        if (config != null) Files.writeString(d.resolve("config.json"), config);
        return d;
    }

    /** Finding 2 (seeded tokenizer_config fuzzer): added token id 100,000,000 padded the vocabulary to 10^8 entries (a hang, then OOM). */
    @Test
    void hugeAddedTokenIdIsRejected() throws Exception {
        Path d = folder("{\"added_tokens_decoder\":{\"100000000\":{\"content\":\"<|x|>\",\"special\":true}}}", null);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(d));
        assertTrue(e.getMessage().contains("100000000") && e.getMessage().contains("tokenizer_config.json"), e.getMessage());
    }

    @Test
    void hugeVocabSizeIsRejected() throws Exception {
        Path d = folder(null, "{\"vocab_size\":2000000000}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(d));
        assertTrue(e.getMessage().contains("vocab_size") && e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void hugeIdInVocabJsonIsRejected() throws Exception {
        Path d = folder(null, null);
        Files.writeString(d.resolve("vocab.json"), "{\"a\":0,\"b\":1,\"ab\":2147483647}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(d));
        assertTrue(e.getMessage().contains("2147483647"), e.getMessage());
    }

    /** Finding 3 (Jazzer, tokenizerJson, 10-minute run): an invalid Split regex escaped as a PatternSyntaxException. */
    @Test
    void invalidPreTokenizerRegexIsAFormatError() throws Exception {
        Path d = Files.createTempDirectory(tmp, "tokjson");
        Files.writeString(d.resolve("tokenizer.json"), "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"[^\\\\p{N]?}\"},"
                + "\"behavior\":\"Isolated\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[]}}");
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(d));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("regex"), e.getMessage());
    }

    /** Limit: a text file is size-checked before it is read whole (sparse files, so no disk is used). */
    @Test
    void oversizedTokenizerAndConfigFilesAreRejectedBeforeReading() throws Exception {
        Path d = folder(null, null);
        try (var f = new java.io.RandomAccessFile(d.resolve("tokenizer.json").toFile(), "rw")) {
            f.setLength(dev.tiller.loader.FileLimits.MAX_TOKENIZER_FILE_BYTES + 1);
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizers.fromHuggingFace(d));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("over the limit"), e.getMessage());

        Path config = d.resolve("config.json");
        try (var f = new java.io.RandomAccessFile(config.toFile(), "rw")) {
            f.setLength(dev.tiller.loader.FileLimits.MAX_CONFIG_FILE_BYTES + 1);
        }
        e = assertThrows(ModelFormatException.class, () -> dev.tiller.loader.hf.HFConfig.read(config));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("over the limit"), e.getMessage());
    }

    @Test
    void aVocabularyJustUnderTheLimitStillLoads() throws Exception {
        // the limit is not a regression for real vocabularies: a config padding to 300k ids (more than any real one) loads
        Path d = folder(null, "{\"vocab_size\":300000}");
        assertEquals(300000, Tokenizers.fromHuggingFace(d).vocabSize());
    }
}
