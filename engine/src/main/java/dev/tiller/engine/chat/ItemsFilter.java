package dev.tiller.engine.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** {@code dict | items}: the (key, value) pairs of a mapping, as {@code dict.items()} gives them. */
final class ItemsFilter implements Filter {

    @Override
    public String getName() {
        return "items";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        if (var == null) {
            return List.of();
        }
        if (!(var instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("items filter needs a mapping, got " + var.getClass().getSimpleName());
        }
        return new ArrayList<>(map.entrySet());
    }
}
