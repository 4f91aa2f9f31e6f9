package dev.tiller.tokenizer;

import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Large inputs round-trip. The timeouts are hang guards, not speed measurements (speed belongs to benchmarks): a
 * quadratic merge loop over a 50k-character word would take minutes and trip them.
 */
@Slow
class LargeInputTest {

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void builds150kVocabulary() {
        try (GGUFFile g = GGUFFile.open(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            assertEquals(151936, Tokenizers.fromGGUF(g.metadata()).vocabSize());
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void longTextsAndLongWordsRoundTrip() {
        Tokenizer bpe = TestData.gguf(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"));
        Tokenizer spm = TestData.gguf(TestData.SHARED.resolve("models/llama-2-tiny-random.gguf"));
        String large = "Once upon a time, in 1999, a llama 🦙 walked 12.5 km to 東京.\n\tIt's   fine!  ".repeat(2000);
        for (Tokenizer tok : new Tokenizer[] {bpe, spm}) {
            assertEquals(large, tok.decode(tok.encode(large, false, false)));
        }
        // one long word: SentencePiece merges over the whole fragment, so the heap must keep it n log n
        String word = "a".repeat(50_000);
        int[] ids = spm.encode(word, false, false);
        assertEquals(word, spm.decode(ids));
        assertArrayEquals(ids, spm.encode(word, false, false));
    }
}
