package dev.tiller.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringMatcherTest {

    /** Feeds the pieces and returns everything emitted, with "|STOP" if a stop string hit. */
    private static String stream(StopStringMatcher m, String... pieces) {
        StringBuilder out = new StringBuilder();
        for (String piece : pieces) {
            StopStringMatcher.Result r = m.feed(piece);
            out.append(r.text());
            if (r.stopped()) {
                return out.append("|STOP").toString();
            }
        }
        return out.append(m.flush()).toString();
    }

    @Test
    void passesTextThroughWhenNothingCouldMatch() {
        StopStringMatcher m = new StopStringMatcher(List.of("<|im_end|>"));
        StopStringMatcher.Result r = m.feed("Hello world");
        assertEquals("Hello world", r.text());
        assertFalse(r.stopped());
    }

    @Test
    void holdsBackAPossibleStartOfAStopString() {
        StopStringMatcher m = new StopStringMatcher(List.of("<|im_end|>"));
        assertEquals("Paris.", m.feed("Paris.<|im").text());
        StopStringMatcher.Result r = m.feed("_end|>more");
        assertEquals("", r.text());
        assertEquals("<|im_end|>", r.stopHit());
        assertTrue(m.stopped());
        assertEquals("", m.feed("ignored").text());
    }

    @Test
    void releasesHeldTextOnceItCannotBeAStop() {
        StopStringMatcher m = new StopStringMatcher(List.of("</s>"));
        assertEquals("a", m.feed("a<").text());
        assertEquals("<b", m.feed("b").text());
    }

    @Test
    void emitsTextBeforeAStopInsideOnePiece() {
        StopStringMatcher m = new StopStringMatcher(List.of("\n\nUser:"));
        StopStringMatcher.Result r = m.feed("Sure.\n\nUser: hi");
        assertEquals("Sure.", r.text());
        assertEquals("\n\nUser:", r.stopHit());
    }

    @Test
    void earliestStopWinsAndSplitsAcrossManyPieces() {
        assertEquals("x|STOP", stream(new StopStringMatcher(List.of("END", "xy")), "x", "E", "N", "D", "xy"));
        assertEquals("1|STOP", stream(new StopStringMatcher(List.of("2 3", " 2")), "1 ", "2", " 3"));
        assertEquals("ab|STOP", stream(new StopStringMatcher(List.of("abc")), "ab", "abc"));
    }

    @Test
    void flushGivesBackTheHeldTailWhenGenerationEndsWithoutAStop() {
        StopStringMatcher m = new StopStringMatcher(List.of("###"));
        assertEquals("answer ", m.feed("answer ##").text());
        assertEquals("##", m.flush());
        assertEquals("answer ##", stream(new StopStringMatcher(List.of("###")), "answer ", "#", "#"));
    }

    @Test
    void noStopStringsMeansPlainPassThrough() {
        StopStringMatcher m = new StopStringMatcher(List.of());
        assertEquals("<|im_end|>", m.feed("<|im_end|>").text());
        assertNull(m.feed("x").stopHit());
    }

    @Test
    void resetStartsOver() {
        StopStringMatcher m = new StopStringMatcher(List.of("STOP"));
        assertTrue(m.feed("STOP").stopped());
        m.reset();
        assertEquals("go on", m.feed("go on").text());
    }

    @Test
    void rejectsEmptyStopStrings() {
        assertThrows(IllegalArgumentException.class, () -> new StopStringMatcher(List.of("")));
    }
}
