package dev.tiller.steering;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** llama.cpp's string_process_escapes, case by case (the expected strings are written out as Java literals). */
class EscapesTest {
    @Test
    void knownEscapesBecomeTheirCharacters() {
        assertEquals("Q: {question}\nA:", Escapes.unescape("Q: {question}\\nA:"));
        assertEquals("a\tb\rc", Escapes.unescape("a\\tb\\rc"));
        assertEquals("say \"hi\" and 'bye'", Escapes.unescape("say \\\"hi\\\" and \\'bye\\'"));
        assertEquals("one \\ two", Escapes.unescape("one \\\\ two"));
        assertEquals("\\n", Escapes.unescape("\\\\n"));       // an escaped backslash, then a plain n
    }

    @Test
    void otherBackslashesStay() {
        assertEquals("\\x and \\", Escapes.unescape("\\x and \\"));
        String plain = "no escapes here";
        assertSame(plain, Escapes.unescape(plain));
    }
}
