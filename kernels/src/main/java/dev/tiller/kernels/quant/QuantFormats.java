package dev.tiller.kernels.quant;

import dev.tiller.loader.GGMLType;

import java.util.EnumMap;
import java.util.Map;

/** Registry of the implemented formats. */
final class QuantFormats {
    private static final Map<GGMLType, QuantFormat> FORMATS = new EnumMap<>(GGMLType.class);

    static {
        register(new F32Format());
        register(new F16Format());
        register(new BF16Format());
        register(new Q8_0Format());
        register(new Q4_0Format());
        register(new Q4_1Format());
        register(new Q5_0Format());
        register(new Q5_1Format());
        register(new Q4_KFormat());
        register(new Q5_KFormat());
        register(new Q6_KFormat());
    }

    private static void register(QuantFormat f) {
        FORMATS.put(f.type(), f);
    }

    static QuantFormat get(GGMLType type) {
        return FORMATS.get(type);
    }

    static String supported() {
        return FORMATS.keySet().toString();
    }

    private QuantFormats() {}
}
