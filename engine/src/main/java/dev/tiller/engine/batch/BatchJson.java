package dev.tiller.engine.batch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/** The JSONL form of requests and results (the same fields as {@code tiller_batch.proto}, snake_case). */
public final class BatchJson {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private static final Set<String> REQUEST_FIELDS = Set.of("id", "prompt", "messages", "max_tokens", "temperature", "top_p",
            "top_k", "min_p", "seed", "stop", "steer", "thinking");
    private static final Set<String> THINKING_FIELDS = Set.of("end_scale", "budget", "min", "wait", "open");

    /** Thrown for a line that is not JSON at all (no id can be known). */
    public static final class MalformedLine extends IllegalArgumentException {
        public MalformedLine(String m) {
            super(m);
        }
    }

    /** Thrown for a JSON object with a usable id but a bad field: the request gets an error result. */
    public static final class BadRequest extends IllegalArgumentException {
        public final String id;

        public BadRequest(String id, String m) {
            super(m);
            this.id = id;
        }
    }

    /**
     * Parses one input line. A missing id becomes the line number; unknown fields are reported to {@code warnings}.
     */
    public static BatchRequest parseRequest(String line, long lineNo, Consumer<String> warnings) {
        return parseRequest(line, lineNo, String.valueOf(lineNo), warnings);
    }

    /** Parses one input line; a missing id becomes {@code missingId}. */
    public static BatchRequest parseRequest(String line, long lineNo, String missingId, Consumer<String> warnings) {
        JsonNode n;
        try {
            n = MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
            throw new MalformedLine("line " + lineNo + ": malformed JSON (" + e.getOriginalMessage() + ")");
        }
        if (n == null || !n.isObject()) throw new MalformedLine("line " + lineNo + ": expected a JSON object");
        JsonNode idNode = n.get("id");
        String id;
        if (idNode == null || idNode.isNull()) id = missingId;
        else if (idNode.isTextual() || idNode.isIntegralNumber()) id = idNode.asText();
        else throw new MalformedLine("line " + lineNo + ": id must be a string or an integer");
        if (id.isEmpty()) throw new MalformedLine("line " + lineNo + ": id is empty");
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!REQUEST_FIELDS.contains(f)) warnings.accept("line " + lineNo + ": unknown field '" + f + "' ignored");
        }
        try {
            String prompt = text(n, "prompt");
            List<ChatMessage> messages = null;
            JsonNode m = n.get("messages");
            if (m != null && !m.isNull()) {
                if (!m.isArray()) throw new IllegalArgumentException("messages must be an array");
                messages = new ArrayList<>();
                for (JsonNode e : m) {
                    if (!e.isObject() || !e.path("role").isTextual()) throw new IllegalArgumentException("each message needs a role and content");
                    JsonNode c = e.get("content");
                    messages.add(new ChatMessage(e.get("role").asText(), c == null || c.isNull() ? "" : c.asText()));
                }
            }
            ThinkingControl thinking = null;
            JsonNode t = n.get("thinking");
            if (t != null && !t.isNull()) {
                if (!t.isObject()) throw new IllegalArgumentException("thinking must be an object");
                for (Iterator<String> it = t.fieldNames(); it.hasNext(); ) {
                    String f = it.next();
                    if (!THINKING_FIELDS.contains(f)) warnings.accept("line " + lineNo + ": unknown field 'thinking." + f + "' ignored");
                }
                Double es = t.has("end_scale") ? number(t, "end_scale").doubleValue() : null;
                thinking = new ThinkingControl(es, integer(t, "budget"), integer(t, "min"), text(t, "wait"),
                        t.has("open") ? t.get("open").asBoolean() : null);
            }
            Number temp = number(n, "temperature"), topP = number(n, "top_p"), minP = number(n, "min_p");
            JsonNode seedNode = n.get("seed");
            Long seed = null;
            if (seedNode != null && !seedNode.isNull()) {
                if (!seedNode.isIntegralNumber()) throw new IllegalArgumentException("seed must be an integer");
                seed = seedNode.asLong();
            }
            return new BatchRequest(id, prompt, messages, integer(n, "max_tokens"), temp == null ? null : temp.floatValue(),
                    topP == null ? null : topP.floatValue(), integer(n, "top_k"), minP == null ? null : minP.floatValue(), seed,
                    strings(n, "stop"), strings(n, "steer"), thinking, lineNo);
        } catch (IllegalArgumentException e) {
            throw new BadRequest(id, "line " + lineNo + ": " + e.getMessage());
        }
    }

    private static String text(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw new IllegalArgumentException(f + " must be a string");
        return v.asText();
    }

    private static Number number(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber()) throw new IllegalArgumentException(f + " must be a number");
        return v.numberValue();
    }

    private static Integer integer(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new IllegalArgumentException(f + " must be an integer");
        return v.asInt();
    }

    private static List<String> strings(JsonNode n, String f) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return List.of();
        if (v.isTextual()) return List.of(v.asText());
        if (!v.isArray()) throw new IllegalArgumentException(f + " must be a string or an array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) throw new IllegalArgumentException(f + " must be a string or an array of strings");
            out.add(e.asText());
        }
        return out;
    }

    public static String requestLine(BatchRequest r) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("id", r.id());
        if (r.prompt() != null) o.put("prompt", r.prompt());
        if (r.messages() != null) {
            ArrayNode a = o.putArray("messages");
            for (ChatMessage m : r.messages()) a.addObject().put("role", m.role()).put("content", m.content());
        }
        if (r.maxTokens() != null) o.put("max_tokens", r.maxTokens());
        if (r.temperature() != null) o.put("temperature", r.temperature());
        if (r.topP() != null) o.put("top_p", r.topP());
        if (r.topK() != null) o.put("top_k", r.topK());
        if (r.minP() != null) o.put("min_p", r.minP());
        if (r.seed() != null) o.put("seed", r.seed());
        if (!r.stop().isEmpty()) r.stop().forEach(o.putArray("stop")::add);
        if (!r.steer().isEmpty()) r.steer().forEach(o.putArray("steer")::add);
        if (r.thinking() != null) {
            ThinkingControl t = r.thinking();
            ObjectNode th = o.putObject("thinking");
            if (t.endScale() != null) th.put("end_scale", t.endScale());
            if (t.budget() != null) th.put("budget", t.budget());
            if (t.minTokens() != null) th.put("min", t.minTokens());
            if (t.waitText() != null) th.put("wait", t.waitText());
            if (t.open() != null) th.put("open", t.open());
        }
        return o.toString();
    }

    /** One output line (without the newline). */
    public static String resultLine(BatchResult r) {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("id", r.id());
        o.put("text", r.text());
        o.put("finish_reason", r.finishReason());
        o.put("prompt_tokens", r.promptTokens());
        o.put("completion_tokens", r.completionTokens());
        if (r.thinkingTokens() != 0) o.put("thinking_tokens", r.thinkingTokens());
        ArrayNode a = o.putArray("tokens");
        for (int t : r.tokens()) a.add(t);
        o.put("first_token_ms", Math.round(r.firstTokenMs() * 100) / 100.0);
        o.put("total_ms", Math.round(r.totalMs() * 100) / 100.0);
        if (r.error() != null) o.put("error", r.error());
        return o.toString();
    }

    public static BatchResult parseResult(String line) {
        try {
            JsonNode n = MAPPER.readTree(line);
            JsonNode a = n.path("tokens");
            int[] tokens = new int[a.size()];
            for (int i = 0; i < tokens.length; i++) tokens[i] = a.get(i).asInt();
            return new BatchResult(n.path("id").asText(), n.path("text").asText(), tokens, n.path("finish_reason").asText(),
                    n.path("prompt_tokens").asInt(), n.path("completion_tokens").asInt(), n.path("thinking_tokens").asInt(),
                    n.path("first_token_ms").asDouble(), n.path("total_ms").asDouble(),
                    n.hasNonNull("error") ? n.get("error").asText() : null);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("not a result line: " + e.getOriginalMessage());
        }
    }

    private BatchJson() {}
}
