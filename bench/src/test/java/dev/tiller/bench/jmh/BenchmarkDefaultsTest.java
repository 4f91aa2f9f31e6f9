package dev.tiller.bench.jmh;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code ./tiller jmh} with no options runs every benchmark at every combination of its default parameters: each
 * such combination is set up here and each benchmark method called once, so a default a kernel rejects (a width that
 * is not a whole number of a format's blocks, say) fails the build rather than the benchmark run.
 */
class BenchmarkDefaultsTest {

    @Test
    void everyBenchmarkRunsWithItsDefaultParameters() throws Exception {
        List<Class<?>> benches = benchmarkClasses();
        assertTrue(benches.size() >= 6, "benchmark classes found: " + benches);
        List<String> failures = new ArrayList<>();
        int runs = 0;
        for (Class<?> c : benches) {
            List<Field> params = new ArrayList<>();
            for (Field f : c.getFields()) if (f.isAnnotationPresent(Param.class)) params.add(f);
            for (List<String> combo : combinations(params)) {
                String label = c.getSimpleName() + " " + combo;
                try {
                    Object bench = c.getDeclaredConstructor().newInstance();
                    for (int i = 0; i < params.size(); i++) set(params.get(i), bench, combo.get(i));
                    invokeAll(bench, Setup.class);
                    for (Method m : c.getMethods()) {
                        if (!m.isAnnotationPresent(Benchmark.class)) continue;
                        m.invoke(bench, arguments(m));
                        runs++;
                    }
                    invokeAll(bench, TearDown.class);
                } catch (InvocationTargetException e) {
                    failures.add(label + ": " + e.getCause());
                }
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertTrue(runs > 20, "benchmark methods run: " + runs);
    }

    /** The public classes of this package that have @Benchmark methods (JMH's generated classes excluded). */
    static List<Class<?>> benchmarkClasses() throws IOException, URISyntaxException, ClassNotFoundException {
        Path dir = Path.of(MatVecBench.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve(MatVecBench.class.getPackageName().replace('.', '/'));
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.sorted().toList()) {
                String n = p.getFileName().toString();
                if (!n.endsWith(".class") || n.contains("$")) continue;
                Class<?> c = Class.forName(MatVecBench.class.getPackageName() + "." + n.substring(0, n.length() - 6));
                if (Stream.of(c.getMethods()).anyMatch(m -> m.isAnnotationPresent(Benchmark.class))) out.add(c);
            }
        }
        return out;
    }

    static List<List<String>> combinations(List<Field> params) {
        List<List<String>> out = new ArrayList<>();
        out.add(List.of());
        for (Field f : params) {
            List<List<String>> next = new ArrayList<>();
            for (List<String> prefix : out) {
                for (String v : f.getAnnotation(Param.class).value()) {
                    List<String> l = new ArrayList<>(prefix);
                    l.add(v);
                    next.add(l);
                }
            }
            out = next;
        }
        return out;
    }

    static void set(Field f, Object o, String v) throws IllegalAccessException {
        Class<?> t = f.getType();
        if (t == int.class) f.setInt(o, Integer.parseInt(v));
        else if (t == long.class) f.setLong(o, Long.parseLong(v));
        else if (t == float.class) f.setFloat(o, Float.parseFloat(v));
        else if (t == boolean.class) f.setBoolean(o, Boolean.parseBoolean(v));
        else if (t == String.class) f.set(o, v);
        else throw new IllegalArgumentException(f + ": parameter type " + t + " not handled by this test");
    }

    static void invokeAll(Object o, Class<? extends java.lang.annotation.Annotation> a) throws ReflectiveOperationException {
        for (Method m : o.getClass().getMethods()) if (m.isAnnotationPresent(a)) m.invoke(o);
    }

    static Object[] arguments(Method m) throws ReflectiveOperationException {
        Parameter[] ps = m.getParameters();
        Object[] args = new Object[ps.length];
        for (int i = 0; i < ps.length; i++) {
            Class<?> t = ps[i].getType();
            if (t == Blackhole.class) {
                args[i] = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
            } else if (t.isAnnotationPresent(State.class)) {
                Object s = t.getDeclaredConstructor().newInstance();
                invokeAll(s, Setup.class);
                args[i] = s;
            } else {
                throw new IllegalArgumentException(m + ": argument type " + t + " not handled by this test");
            }
        }
        return args;
    }
}
