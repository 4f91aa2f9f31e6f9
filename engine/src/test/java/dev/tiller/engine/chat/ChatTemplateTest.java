package dev.tiller.engine.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.testsupport.Shared;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Real published chat templates rendered against formats written down by hand from each model's
 * documentation (ChatML, Llama 3.1, Gemma 2) and against the prompt llama.cpp formatted.
 */
class ChatTemplateTest {

    private static final Path SHARED = Shared.DIR;
    private static final ObjectMapper JSON = new ObjectMapper();

    private static final String SYS = "You are a terse assistant.";
    private static final String U1 = "What is the capital of France?";
    private static final String A1 = "Paris.";
    private static final String U2 = "And of Italy?";

    private static final List<ChatMessage> CONVERSATION = List.of(
            ChatMessage.system(SYS), ChatMessage.user(U1), ChatMessage.assistant(A1), ChatMessage.user(U2));
    private static final List<ChatMessage> WITHOUT_SYSTEM = CONVERSATION.subList(1, 4);

    static Stream<Arguments> allTemplates() throws IOException {
        List<Arguments> templates = new ArrayList<>();
        try (Stream<Path> files = Files.list(SHARED.resolve("reference/chat-templates"))) {
            for (Path p : files.sorted().toList()) {
                templates.add(Arguments.of(p.getFileName().toString(), Files.readString(p)));
            }
        }
        templates.add(Arguments.of("qwen2.5 tokenizer_config", configTemplate("qwen2.5")));
        templates.add(Arguments.of("qwen3 tokenizer_config", configTemplate("qwen3")));
        return templates.stream();
    }

    private static String configTemplate(String tokenizer) throws IOException {
        return JSON.readTree(SHARED.resolve("tokenizers/" + tokenizer + "/tokenizer_config.json").toFile())
                .get("chat_template").asText();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allTemplates")
    void everyTemplateRendersEveryMessage(String name, String source) {
        // Gemma's template refuses the system role (tested below); it gets the conversation without one.
        boolean gemma = name.contains("gemma");
        List<ChatMessage> conversation = gemma ? WITHOUT_SYSTEM : CONVERSATION;
        // Firefunction splices these two variables into its system prompt unconditionally.
        Map<String, Object> extra = Map.of("functions", "[]", "datetime", "2024-07-26");

        String out = ChatTemplate.of(source, "<BOS>", "<EOS>").render(conversation, true, extra);

        for (ChatMessage m : conversation) {
            assertTrue(out.contains(m.content()), () -> name + " lost \"" + m.content() + "\":\n" + out);
        }
        assertTrue(out.indexOf(U1) < out.indexOf(A1) && out.indexOf(A1) < out.lastIndexOf(U2),
                () -> name + " reordered the turns:\n" + out);
    }

    @Test
    void qwen25RendersChatMl() throws IOException {
        String expected = "<|im_start|>system\n" + SYS + "<|im_end|>\n"
                + "<|im_start|>user\n" + U1 + "<|im_end|>\n"
                + "<|im_start|>assistant\n" + A1 + "<|im_end|>\n"
                + "<|im_start|>user\n" + U2 + "<|im_end|>\n"
                + "<|im_start|>assistant\n";
        ChatTemplate fromConfig = ChatTemplate.of(configTemplate("qwen2.5"), null, "<|im_end|>");
        assertEquals(expected, fromConfig.render(CONVERSATION, true));

        String published = Files.readString(SHARED.resolve("reference/chat-templates/Qwen-Qwen2.5-7B-Instruct.jinja"));
        assertEquals(expected, ChatTemplate.of(published, null, "<|im_end|>").render(CONVERSATION, true));
    }

    @Test
    void qwen25WithoutGenerationPromptEndsAfterLastTurn() throws IOException {
        String out = ChatTemplate.of(configTemplate("qwen2.5"), null, "<|im_end|>").render(CONVERSATION, false);
        assertTrue(out.endsWith("<|im_start|>user\n" + U2 + "<|im_end|>\n"), out);
    }

    @Test
    void llama31RendersItsDocumentedFormat() throws IOException {
        String source = Files.readString(SHARED.resolve("reference/chat-templates/meta-llama-Llama-3.1-8B-Instruct.jinja"));
        // Meta's prompt format for Llama 3.1: the system turn opens with the knowledge cutoff and a
        // date ("26 Jul 2024" when the caller passes none), then each turn is a header plus <|eot_id|>.
        String expected = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                + SYS + "<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\n" + U1 + "<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n" + A1 + "<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\n" + U2 + "<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n";
        assertEquals(expected, ChatTemplate.of(source, "<|begin_of_text|>", "<|eot_id|>").render(CONVERSATION, true));
    }

    @Test
    void gemma2RendersItsDocumentedFormatAndRefusesSystemRole() throws IOException {
        String source = Files.readString(SHARED.resolve("reference/chat-templates/google-gemma-2-2b-it.jinja"));
        ChatTemplate gemma = ChatTemplate.of(source, "<bos>", "<eos>");
        // Gemma's documented turn format; the assistant role is called "model".
        String expected = "<bos><start_of_turn>user\n" + U1 + "<end_of_turn>\n"
                + "<start_of_turn>model\n" + A1 + "<end_of_turn>\n"
                + "<start_of_turn>user\n" + U2 + "<end_of_turn>\n"
                + "<start_of_turn>model\n";
        assertEquals(expected, gemma.render(WITHOUT_SYSTEM, true));

        ChatTemplateException e = assertThrows(ChatTemplateException.class, () -> gemma.render(CONVERSATION, true));
        assertTrue(e.getMessage().contains("System role not supported"), e.getMessage());
    }

    @Test
    void raiseExceptionStopsRenderingWithTheTemplatesMessage() {
        ChatTemplate strict = ChatTemplate.of(
                "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here: ' + m.content) }}"
                        + "{% endif %}{{ m.content }}{% endfor %}", "", "");
        assertEquals("hi", strict.render(List.of(ChatMessage.user("hi")), false));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> strict.render(List.of(ChatMessage.user("hi"), new ChatMessage("tool", "42")), false));
        assertTrue(e.getMessage().endsWith("no tools here: 42"), e.getMessage());
    }

    @Test
    void messageContentIsDataNeverTemplateCode() throws IOException {
        String tricky = "{{ bos_token }} {% if true %}x{% endif %} {# c #} \\n \"quoted\" 'single'";
        String out = ChatTemplate.of(configTemplate("qwen2.5"), "<BOS>", "<|im_end|>")
                .render(List.of(ChatMessage.system(SYS), ChatMessage.user(tricky)), false);
        assertEquals("<|im_start|>system\n" + SYS + "<|im_end|>\n<|im_start|>user\n" + tricky + "<|im_end|>\n", out);
    }

    @Test
    void brokenTemplateFailsClearly() {
        ChatTemplate broken = ChatTemplate.of("{% for m in messages %}{{ m.content ", "", "");
        assertThrows(ChatTemplateException.class, () -> broken.render(List.of(ChatMessage.user("hi")), false));
    }

    @Test
    void qwen3WithThinkingDisabledOpensAnEmptyThinkBlock() throws IOException {
        ChatTemplate qwen3 = ChatTemplate.of(configTemplate("qwen3"), null, "<|im_end|>");
        String prefix = "<|im_start|>user\n" + U1 + "<|im_end|>\n<|im_start|>assistant\n";
        assertEquals(prefix + "<think>\n\n</think>\n\n",
                qwen3.render(List.of(ChatMessage.user(U1)), true, Map.of("enable_thinking", false)));
        assertEquals(prefix, qwen3.render(List.of(ChatMessage.user(U1)), true));
    }

    @Test
    void qwen3DropsReasoningFromEarlierAssistantTurns() throws IOException {
        ChatTemplate qwen3 = ChatTemplate.of(configTemplate("qwen3"), null, "<|im_end|>");
        String out = qwen3.render(List.of(ChatMessage.user(U1),
                ChatMessage.assistant("<think>\nhmm, France\n</think>\n\nParis."), ChatMessage.user(U2)), true);
        assertEquals("<|im_start|>user\n" + U1 + "<|im_end|>\n<|im_start|>assistant\nParis.<|im_end|>\n"
                + "<|im_start|>user\n" + U2 + "<|im_end|>\n<|im_start|>assistant\n", out);
    }

    @Test
    void tinyRandomQwen2GgufTemplateMatchesLlamaCppPrompt() throws IOException {
        String source;
        try (GGUFFile gguf = GGUFFile.open(SHARED.resolve("models/tiny-random-qwen2.gguf"))) {
            source = gguf.metadata().getString("tokenizer.chat_template");
        }
        String referencePrompt = JSON.readTree(
                SHARED.resolve("reference/tiny-random-qwen2/chat_times.json").toFile()).get("prompt").asText();
        String out = ChatTemplate.of(source, null, "<|im_end|>")
                .render(List.of(ChatMessage.user("What is 12 times 7?")), true);
        // The real Qwen2.5 template adds a default system turn when the conversation has none;
        // the reference prompt was formatted without it, so it must be exactly that turn plus the
        // reference prompt.
        String defaultSystem = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
                + "You are a helpful assistant.<|im_end|>\n";
        assertEquals(defaultSystem + referencePrompt, out);
    }

    @Test
    void qwen25ListsToolsAsPythonJson() throws IOException {
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("type", "object");
        parameters.put("properties", Map.of("city", Map.of("type", "string")));
        Map<String, Object> function = new LinkedHashMap<>();
        function.put("name", "get_weather");
        function.put("description", "Weather in a city");
        function.put("parameters", parameters);
        Map<String, Object> tool = new LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", function);

        String out = ChatTemplate.of(configTemplate("qwen2.5"), null, "<|im_end|>")
                .render(List.of(ChatMessage.user(U1)), true, Map.of("tools", List.of(tool)));
        // json.dumps spelling: ", " and ": " separators, insertion order kept.
        assertTrue(out.contains("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
                + "\"description\": \"Weather in a city\", \"parameters\": {\"type\": \"object\", "
                + "\"properties\": {\"city\": {\"type\": \"string\"}}}}}\n</tools>"), out);
        assertTrue(out.startsWith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                + "\n\n# Tools\n"), out);
    }
}
