package dev.tiller.models.synthetic;

import dev.tiller.loader.GGMLType;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.function.BiFunction;

/**
 * Finds the kernels module's {@code dev.tiller.kernels.quant.Quantizer.quantize(GGMLType, float[])} at run time, so
 * that quantized synthetic models work as soon as the kernels provide it, without this module depending on a class
 * that may not exist yet. Returns {@code null} when it is absent.
 */
final class KernelsQuantizer {
    static final String CLASS_NAME = "dev.tiller.kernels.quant.Quantizer";
    private static final BiFunction<GGMLType, float[], byte[]> FOUND = find();

    private KernelsQuantizer() {}

    static BiFunction<GGMLType, float[], byte[]> get() {
        return FOUND;
    }

    private static BiFunction<GGMLType, float[], byte[]> find() {
        MethodHandle mh;
        try {
            Class<?> c = Class.forName(CLASS_NAME, true, KernelsQuantizer.class.getClassLoader());
            mh = MethodHandles.publicLookup().findStatic(c, "quantize", MethodType.methodType(byte[].class, GGMLType.class, float[].class));
        } catch (ClassNotFoundException | NoSuchMethodException | IllegalAccessException e) {
            return null;
        }
        return (type, row) -> {
            try {
                return (byte[]) mh.invokeExact(type, row);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException("quantizing to " + type + " failed", t);
            }
        };
    }
}
