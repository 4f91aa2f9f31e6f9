package dev.tiller.engine.generate;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.engine.thinking.LogitsProcessor;
import dev.tiller.testsupport.Shared;
import dev.tiller.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** One sequence's decode decisions, fed by hand: limits, end-of-generation, stop strings, streaming, processors. */
class DecodeStateTest {
    static Model stories;
    static Tokenizer tok;
    static final int[] PROMPT = {1, 400, 500};

    @BeforeAll
    static void load() {
        stories = Model.load(Shared.DIR.resolve("models/stories260K.gguf"));
        tok = stories.tokenizer();
    }

    @AfterAll
    static void close() {
        stories.close();
    }

    static DecodeState state(List<String> stop, int maxTokens, boolean ignoreEos, List<LogitsProcessor> procs, TokenListener l) {
        return new DecodeState(tok, SamplerConfig.greedy(), stop, maxTokens, ignoreEos, procs, PROMPT, l);
    }

    @Test
    void maxTokensZeroEndsBeforeAnyToken() {
        DecodeState s = state(List.of(), 0, false, List.of(), TokenListener.NONE);
        assertTrue(s.ended());
        assertEquals("length", s.finishReason());
        assertEquals(0, s.tokens().length);
        assertEquals("", s.text());
    }

    @Test
    void endOfGenerationTokenStopsUnlessIgnored() {
        int eos = tok.eosId();
        assertTrue(tok.isEndOfGeneration(eos));
        DecodeState s = state(List.of(), 10, false, List.of(), TokenListener.NONE);
        assertFalse(s.accept(400));
        assertTrue(s.accept(eos));
        assertEquals("stop", s.finishReason());
        assertArrayEquals(new int[]{400, eos}, s.tokens(), "the end-of-generation token is kept");

        DecodeState ignoring = state(List.of(), 10, true, List.of(), TokenListener.NONE);
        assertFalse(ignoring.accept(eos));
        assertFalse(ignoring.ended());
    }

    @Test
    void tokenLimitEndsWithLengthAndContextIsTheCallers() {
        DecodeState s = state(List.of(), 3, false, List.of(), TokenListener.NONE);
        assertFalse(s.accept(400));
        assertFalse(s.accept(401));
        assertTrue(s.accept(402));
        assertEquals("length", s.finishReason());

        DecodeState unlimited = state(List.of(), -1, false, List.of(), TokenListener.NONE);
        for (int i = 0; i < 100; i++) assertFalse(unlimited.accept(400 + i % 7));
        unlimited.end("context");
        unlimited.end("length"); // the first reason stands
        assertEquals("context", unlimited.finishReason());
        assertEquals(100, unlimited.generated());
    }

    @Test
    void stopStringCutsTheStreamedText() {
        int[] toks = tok.encode("Once upon a time there was a big dog. The end", false, false);
        DecodeState plain = state(List.of(), -1, false, List.of(), TokenListener.NONE);
        for (int t : toks) plain.accept(t);
        plain.end("length");
        String full = plain.text();
        assertTrue(full.contains("dog."), full);

        List<String> pieces = new ArrayList<>();
        DecodeState s = state(List.of("dog."), -1, false, List.of(), pieces::add);
        int fed = 0;
        while (fed < toks.length && !s.accept(toks[fed])) fed++;
        assertEquals("stop", s.finishReason());
        assertTrue(fed < toks.length - 1, "stopped before the end");
        assertEquals(full.substring(0, full.indexOf("dog.")), s.text());
        assertEquals(s.text(), String.join("", pieces), "streamed pieces add up to the text");
    }

    @Test
    void processorsEditTheirRowAndMayReplaceTheToken() {
        int vocab = stories.config().vocabSize();
        float[] logits = new float[2 * vocab];
        logits[5] = 10f;          // row 0's best
        logits[vocab + 6] = 10f;  // row 1's best
        List<Integer> steps = new ArrayList<>();
        LogitsProcessor boost = (row, offset, n, step) -> {
            steps.add(step);
            row[offset + 7] = 100f;
        };
        DecodeState s = state(List.of(), 10, false, List.of(boost), TokenListener.NONE);
        assertEquals(7, s.next(logits, vocab, vocab));
        assertEquals(0f, logits[7], "row 0 untouched");
        s.accept(7);
        LogitsProcessor force = new LogitsProcessor() {
            @Override
            public void process(float[] row, int offset, int n, int step) {}

            @Override
            public int accept(int sampled, int step) {
                return 9;
            }
        };
        DecodeState forced = state(List.of(), 10, false, List.of(boost, force), TokenListener.NONE);
        assertEquals(9, forced.next(logits, 0, vocab));
        assertEquals(List.of(0, 0), steps.subList(0, 2));
        assertEquals(7, s.next(new float[vocab], 0, vocab));
        assertEquals(1, steps.getLast(), "the step counts generated tokens");
    }
}
