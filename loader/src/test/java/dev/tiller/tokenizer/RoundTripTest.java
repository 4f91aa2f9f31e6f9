package dev.tiller.tokenizer;

import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** decode(encode(text)) == text, and streaming decode == decode, over the llama.cpp suite's texts. */
class RoundTripTest {

    @Slow
    @TestFactory
    Stream<DynamicNode> decodeInvertsEncodeAndStreamingMatches() throws IOException {
        List<DynamicNode> nodes = new ArrayList<>();
        for (String name : LlamaCppConformanceTest.vocabNames()) {
            if (name.startsWith("bert")) continue; // WordPiece lowercases and drops spacing: not invertible
            List<DynamicTest> tests = new ArrayList<>();
            for (LlamaCppConformanceTest.Case c : LlamaCppConformanceTest.readCases(name)) {
                String text = c.text();
                tests.add(DynamicTest.dynamicTest("'" + LlamaCppConformanceTest.show(text) + "'", () -> {
                    Tokenizer tok = TestData.forVocab(name);
                    Assumptions.assumeTrue(tok != null, name + ": no vocabulary files here");
                    int[] ids = tok.encode(text, false, false);
                    assertEquals(text, tok.decode(ids));
                    assertEquals(text, streamed(tok, tok.newStreamingDecoder(), ids));
                }));
            }
            nodes.add(DynamicContainer.dynamicContainer(name, tests));
        }
        return nodes.stream();
    }

    static String streamed(Tokenizer tok, StreamingDecoder d, int[] ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) {
            String piece = d.accept(id);
            assertFalse(piece.contains("\uFFFD"), "a streamed piece split a UTF-8 sequence: " + piece);
            sb.append(piece);
        }
        return sb.append(d.flush()).toString();
    }

    @Test
    void streamingHoldsBackMultiByteCharactersSplitOverByteFallbackTokens() {
        Tokenizer tok = TestData.gguf(TestData.SHARED.resolve("models/stories260K.gguf"));
        String text = "Tom saw 🦙 and 😶‍🌫️ near 東京 — café ½";
        int[] ids = tok.encode(text, true, false);
        assertEquals(tok.bosId(), ids[0]);
        StreamingDecoder d = tok.newStreamingDecoder();
        StringBuilder sb = new StringBuilder();
        int heldBack = 0;
        for (int id : ids) {
            String piece = d.accept(id);
            if (piece.isEmpty() && tok.tokenText(id).startsWith("<0x")) heldBack++;
            assertFalse(piece.contains("\uFFFD"), piece);
            sb.append(piece);
        }
        sb.append(d.flush());
        assertTrue(heldBack > 5, "byte-fallback tokens of 🦙/東京 should be held until their sequence completes");
        assertEquals(text, sb.toString());
        assertEquals(text, tok.decode(ids));
    }

    @Test
    void flushEmitsAnIncompleteSequenceAsReplacement() {
        Tokenizer tok = TestData.gguf(TestData.SHARED.resolve("models/stories260K.gguf"));
        StreamingDecoder d = tok.newStreamingDecoder();
        assertEquals("", d.accept(tok.tokenId("<0xF0>").getAsInt()));
        assertEquals("", d.accept(tok.tokenId("<0x9F>").getAsInt()));
        assertEquals("\uFFFD", d.flush());
    }

    @Test
    void continuationKeepsTheLeadingSpaceThatDecodeDrops() {
        Tokenizer tok = TestData.gguf(TestData.SHARED.resolve("models/stories260K.gguf"));
        int[] ids = tok.encode("Once upon a time", false, false);
        assertEquals("Once upon a time", tok.decode(ids));
        assertEquals(" Once upon a time", streamed(tok, tok.newStreamingDecoder(false, true), ids));
        int[] withBos = tok.encode("Once upon a time", true, false);
        assertEquals("Once upon a time", tok.decode(withBos));
        assertEquals("<s>Once upon a time", tok.decode(withBos, true));
    }

    @Test
    void byteLevelBpeStreamsEmojiSplitAcrossTokens() {
        Tokenizer tok = TestData.gguf(TestData.SHARED.resolve("models/tiny-random-qwen2.gguf"));
        String text = "<|im_start|>user\n😶‍🌫️ 東京で🦙<|im_end|>";
        int[] ids = tok.encode(text, false, true);
        assertEquals(text, streamed(tok, tok.newStreamingDecoder(true, false), ids));
        assertEquals("user\n😶‍🌫️ 東京で🦙", streamed(tok, tok.newStreamingDecoder(), ids));
    }
}
