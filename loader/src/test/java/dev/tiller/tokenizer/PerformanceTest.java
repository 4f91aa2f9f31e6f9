package dev.tiller.tokenizer;

import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFMetadata;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sanity bounds, generous for a loaded 2-core CI machine: building a 150k-token vocabulary and encoding long text
 * must not be quadratic.
 */
class PerformanceTest {

    @Test
    void builds150kVocabularyQuickly() {
        try (GGUFFile g = GGUFFile.open(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            GGUFMetadata md = g.metadata();
            Tokenizers.fromGGUF(md); // warm-up (class loading, JIT)
            long t0 = System.nanoTime();
            Tokenizer tok = Tokenizers.fromGGUF(md);
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("150k-vocab tokenizer built in %.3f s%n", seconds);
            assertEquals(151936, tok.vocabSize());
            assertTrue(seconds < 2.0, "building took " + seconds + " s");
        }
    }

    @Test
    void encodingScalesLinearly() {
        Tokenizer bpe = TestData.gguf(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"));
        Tokenizer spm = TestData.gguf(TestData.SHARED.resolve("models/llama-2-tiny-random.gguf"));
        String unit = "Once upon a time, in 1999, a llama 🦙 walked 12.5 km to 東京.\n\tIt's   fine!  ";
        String small = unit.repeat(200);
        String large = unit.repeat(2000);
        for (Tokenizer tok : new Tokenizer[] {bpe, spm}) {
            tok.encode(small, false, false); // warm-up
            long t0 = System.nanoTime();
            int[] ids = tok.encode(large, false, false);
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%s: %d chars -> %d tokens in %.3f s%n", tok, large.length(), ids.length, seconds);
            assertTrue(seconds < 3.0, "encoding " + large.length() + " chars took " + seconds + " s");
            assertEquals(large, tok.decode(ids));
        }
        // one long word: SentencePiece merges over the whole fragment, so the heap must keep it n log n
        String word = "a".repeat(50_000);
        long t0 = System.nanoTime();
        int[] ids = spm.encode(word, false, false);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 3.0, "a 50k-char word took " + seconds + " s");
        assertEquals(word, spm.decode(ids));
        assertArrayEquals(ids, spm.encode(word, false, false));
    }
}
