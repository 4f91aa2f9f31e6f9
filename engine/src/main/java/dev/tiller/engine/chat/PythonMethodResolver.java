package dev.tiller.engine.chat;

import java.beans.FeatureDescriptor;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * Answers method calls that Python's Jinja allows and Java objects lack: str methods
 * ({@link PythonStringMethods}) and {@code dict.get(key, default)}. Everything else falls through
 * to Jinjava's own resolvers, which come after this one in the chain.
 */
final class PythonMethodResolver extends ELResolver {

    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(method instanceof String name)) {
            return null;
        }
        if (base instanceof String s) {
            Optional<Object> result = PythonStringMethods.invoke(s, name, params);
            if (result.isPresent()) {
                context.setPropertyResolved(true);
                return result.get();
            }
        } else if (base instanceof Map<?, ?> map && name.equals("get") && params != null && params.length == 2) {
            context.setPropertyResolved(true);
            return map.containsKey(params[0]) ? map.get(params[0]) : params[1];
        } else if (base instanceof Map<?, ?> map && name.equals("values") && (params == null || params.length == 0)) {
            context.setPropertyResolved(true);
            return new java.util.ArrayList<>(map.values());
        }
        return null;
    }

    /** {@code text[i]}: Jinjava only indexes lists; Python indexes strings too, from the end when negative. */
    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        Integer index = asIndex(property);
        if (base instanceof String s && index != null) {
            int i = index;
            int at = i < 0 ? s.length() + i : i;
            context.setPropertyResolved(true);
            return at >= 0 && at < s.length() ? String.valueOf(s.charAt(at)) : null;
        }
        return null;
    }

    /** Jinjava hands subscripts over as text ("0", "-1"). */
    private static Integer asIndex(Object property) {
        if (property instanceof Long || property instanceof Integer) {
            return ((Number) property).intValue();
        }
        if (property instanceof String text && text.matches("-?\\d{1,9}")) {
            return Integer.parseInt(text);
        }
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {
        // read-only: leaves the property unresolved for the next resolver
    }

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return true;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
