package dev.tiller.engine.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.tag.Tag;
import com.hubspot.jinjava.tree.Node;
import com.hubspot.jinjava.tree.TagNode;
import java.util.Objects;

/**
 * Jinja's {@code {% filter name %}...{% endfilter %}} block, which Jinjava lacks: renders the body,
 * then applies the filter chain to it (e.g. Firefunction's {@code {% filter trim %}}).
 */
final class FilterBlockTag implements Tag {

    private static final long serialVersionUID = 1L;
    private static final String BODY_VARIABLE = "__tiller_filter_body";

    @Override
    public String getName() {
        return "filter";
    }

    @Override
    public String getEndTagName() {
        return "endfilter";
    }

    @Override
    public String interpret(TagNode tagNode, JinjavaInterpreter interpreter) {
        StringBuilder body = new StringBuilder();
        for (Node child : tagNode.getChildren()) {
            body.append(child.render(interpreter).getValue());
        }
        String filters = tagNode.getHelpers().trim();
        if (filters.isEmpty()) {
            throw new IllegalArgumentException("{% filter %} needs a filter name");
        }
        // The body goes through the ordinary expression path so filter arguments work as usual.
        try (var scope = interpreter.enterScope()) {
            interpreter.getContext().put(BODY_VARIABLE, body.toString());
            Object result = interpreter.resolveELExpression(BODY_VARIABLE + "|" + filters, tagNode.getLineNumber());
            return Objects.toString(result, "");
        }
    }
}
