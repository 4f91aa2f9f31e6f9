package dev.tiller.kernels;

/**
 * The JVM set-up the engine needs, checked before the first kernel class is touched: the incubating Vector API
 * ({@code jdk.incubator.vector}) is not resolved unless asked for, and without it the first model load would fail deep
 * in a stack trace with {@code ClassNotFoundException: jdk.incubator.vector.Vector}.
 */
public final class JvmFlags {
    /** The flags a class-path launch needs. */
    public static final String FLAGS = "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED";

    /** True when {@code jdk.incubator.vector} is in the boot layer (asked for with --add-modules, or required by a module). */
    public static boolean vectorApiPresent() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }

    /** Throws an {@link IllegalStateException} naming the missing flags when the Vector API is not available. */
    public static void requireVectorApi() {
        if (!vectorApiPresent()) {
            throw new IllegalStateException("Tiller needs the JDK's incubating Vector API, which this JVM was started without: "
                    + "add the JVM flags " + FLAGS + " to the java command line (or to JDK_JAVA_OPTIONS; for Maven tests, "
                    + "surefire's argLine). On the module path, a module that requires dev.tiller.engine needs no flags.");
        }
    }

    private JvmFlags() {}
}
