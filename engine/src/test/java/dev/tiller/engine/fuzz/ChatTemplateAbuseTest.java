package dev.tiller.engine.fuzz;

import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.engine.chat.ChatTemplateException;
import dev.tiller.testsupport.Slow;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A chat template comes from the model file, so it is untrusted input: it must not run away with time or memory. */
class ChatTemplateAbuseTest {
    static String render(String template) {
        return ChatTemplate.of(template, "<s>", "</s>").render(List.of(new ChatMessage("user", "hi")), true);
    }

    @Slow
    @Test
    void hugeOutputIsCut() {
        String t = "{% for a in range(1000) %}{% for b in range(1000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}{% endfor %}{% endfor %}";
        ChatTemplateException e = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(ChatTemplateException.class, () -> render(t)));
        assertTrue(e.getMessage().toLowerCase().contains("output"), e.getMessage());
    }

    @Test
    void hugeStringIsCut() {
        String t = "{% set s = 'x' %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s|length }}";
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> assertThrows(ChatTemplateException.class, () -> render(t)));
    }
}
