package dev.tiller.engine.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template (the Jinja source from {@code tokenizer_config.json} or GGUF
 * {@code tokenizer.chat_template}), rendered the way Hugging Face's {@code apply_chat_template} does:
 * {@code trim_blocks} and {@code lstrip_blocks} on, {@code messages} as a list of dicts,
 * {@code bos_token}/{@code eos_token}/{@code add_generation_prompt} set, and the helpers
 * {@code raise_exception}, {@code strftime_now} and HF's {@code tojson}.
 */
public final class ChatTemplate {

    /** The longest output (and string value) a template may produce; real chats render to a few KB. */
    public static final long MAX_OUTPUT_CHARS = 16L << 20;

    private final String source;
    private final String bosToken;
    private final String eosToken;
    private final Jinjava jinjava;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = JinjaCompat.rewrite(source);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.jinjava = newEngine();
    }

    public static ChatTemplate of(String jinjaSource, String bosToken, String eosToken) {
        Objects.requireNonNull(jinjaSource, "jinjaSource");
        return new ChatTemplate(jinjaSource, bosToken == null ? "" : bosToken, eosToken == null ? "" : eosToken);
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, Map.of());
    }

    /**
     * @param extraContext further template variables, e.g. {@code tools} or {@code enable_thinking};
     *                     they override the standard ones of the same name
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, ?> extraContext) {
        Map<String, Object> context = new HashMap<>();
        context.put("messages", asDicts(messages));
        context.put("add_generation_prompt", addGenerationPrompt);
        context.put("bos_token", bosToken);
        context.put("eos_token", eosToken);
        context.putAll(extraContext);
        RenderResult result = jinjava.renderForResult(source, context);
        failOnErrors(result);
        return result.getOutput();
    }

    private static List<Map<String, Object>> asDicts(List<ChatMessage> messages) {
        List<Map<String, Object>> dicts = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            Map<String, Object> dict = new LinkedHashMap<>();
            dict.put("role", m.role());
            dict.put("content", m.content());
            dicts.add(dict);
        }
        return dicts;
    }

    /**
     * Jinjava records errors and keeps going; Python's Jinja stops at the first one. A template
     * that raised on purpose is reported with its own message; any other fatal error means the
     * output cannot be trusted.
     */
    private static void failOnErrors(RenderResult result) {
        for (TemplateError error : result.getErrors()) {
            for (Throwable t = error.getException(); t != null; t = t.getCause()) {
                if (t instanceof TemplateFunctions.RaisedByTemplate raised) {
                    throw new ChatTemplateException("chat template raised: " + raised.getMessage());
                }
            }
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat template failed at line " + error.getLineno() + ": "
                        + error.getMessage(), error.getException());
            }
        }
    }

    private static Jinjava newEngine() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonMethodResolver());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withEnableRecursiveMacroCalls(true)
                .withMaxMacroRecursionDepth(20)
                // the template comes from the model file: bound what it can build (docs/hardening.md)
                .withMaxOutputSize(MAX_OUTPUT_CHARS)
                .withMaxStringLength(MAX_OUTPUT_CHARS)
                .withMaxListSize(1 << 20)
                .withMaxMapSize(1 << 20)
                .withElResolver(resolver)
                // Jinjava by default re-renders expression output that looks like template code, so a
                // user typing "{{ ... }}" would run it. Python's Jinja never does.
                .withNestedInterpretationEnabled(false)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withUseNaturalOperatorPrecedence(true)
                        .withParseWhitespaceControlStrictly(true)
                        .withAllowAdjacentTextNodes(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .withEvaluateMapKeys(true)
                        .withIterateOverMapKeys(true)
                        .withUsePyishObjectMapper(true)
                        .build())
                .build();
        Jinjava jinjava = new Jinjava(config);
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", TemplateFunctions.class,
                "raiseException", String.class));
        jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", TemplateFunctions.class,
                "strftimeNow", String.class));
        jinjava.registerFilter(new TojsonFilter());
        jinjava.registerFilter(new ItemsFilter());
        jinjava.registerTag(new FilterBlockTag());
        return jinjava;
    }

    @Override
    public String toString() {
        return "ChatTemplate[" + source.length() + " chars]";
    }
}
