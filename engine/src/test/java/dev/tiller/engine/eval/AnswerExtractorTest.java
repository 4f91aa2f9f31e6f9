package dev.tiller.engine.eval;

import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.*;

class AnswerExtractorTest {
    static final Path SHARED = Shared.DIR;

    @Test
    void labelsOfRealGsm8kAnswers() {
        List<EvalItem> items = EvalItem.read(SHARED.resolve("data/gsm8k/train.jsonl"), 5, w -> fail(w));
        // the first five GSM8K training answers end "#### 72", "#### 10", "#### 5", "#### 42", "#### 624"
        assertEquals(List.of("72", "10", "5", "42", "624"), items.stream().map(EvalItem::label).toList());
        // their worked text without the "####" line: the last number is the answer too
        for (EvalItem it : items) {
            String body = it.answer().substring(0, it.answer().lastIndexOf("####"));
            assertEquals(Optional.of(it.label()), AnswerExtractor.finalNumber(body), it.answer());
        }
    }

    @Test
    void modelStyleAnswers() {
        assertEquals(Optional.of("9"), AnswerExtractor.finalNumber(" 11+5=16. 16+1=17. 17-9=8. 8+1=9. #### 9"));
        assertEquals(Optional.of("1234.5"), AnswerExtractor.finalNumber("So she pays $1,234.50."));
        assertEquals(Optional.of("-3"), AnswerExtractor.finalNumber("The change is -3 degrees"));
        assertEquals(Optional.of("18"), AnswerExtractor.finalNumber("#### 18\nQ: Tom has 4 apples"));
        assertEquals(Optional.of("5"), AnswerExtractor.finalNumber("#### 5.00"));
        assertEquals(Optional.empty(), AnswerExtractor.finalNumber("I don't know"));
        assertEquals(Optional.empty(), AnswerExtractor.label("no hashes 12"));
        assertTrue(AnswerExtractor.worked(" 2+7=9. 9+9=18. #### 18"));
        assertFalse(AnswerExtractor.worked(" #### 18"));
    }

    @Test
    void wilsonIntervalMatchesTheFormula() {
        // 426/500 at z=1.96: 0.8182–0.8804 (computed independently with the textbook formula in Python)
        Wilson w = Wilson.interval(426, 500, 1.96);
        assertEquals(0.8182, w.low(), 2e-4);
        assertEquals(0.8804, w.high(), 2e-4);
        assertEquals(0, Wilson.interval(0, 10, 1.96).low(), 1e-12);
        assertEquals(0.2775, Wilson.interval(0, 10, 1.96).high(), 5e-4);
    }

    @Test
    void majorityVoteTiesGoToTheFirst() {
        assertEquals("3", Evaluator.majority(java.util.Arrays.asList("3", "4", null, "4", "3")));
        assertEquals("4", Evaluator.majority(java.util.Arrays.asList("3", "4", "4")));
        assertNull(Evaluator.majority(java.util.Arrays.asList(null, null)));
    }
}
