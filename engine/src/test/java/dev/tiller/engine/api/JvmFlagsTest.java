package dev.tiller.engine.api;

import dev.tiller.testsupport.Shared;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A class-path JVM started without the Vector API flags gets an error naming them, not a ClassNotFoundException. */
class JvmFlagsTest {

    /** Run in the child JVM: loads the model given as the argument. */
    public static void main(String[] args) {
        try (Model m = Model.load(Path.of(args[0]))) {
            System.out.println("loaded " + m.config());
        }
    }

    @Test
    void loadWithoutTheFlagsNamesThem() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", cp, JvmFlagsTest.class.getName(), Shared.DIR.resolve("models/stories260K.gguf").toString()))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertNotEquals(0, p.exitValue(), out);
        assertTrue(out.contains("IllegalStateException"), out);
        assertTrue(out.contains("--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"), out);
        assertFalse(out.contains("ClassNotFoundException"), out);
        assertFalse(cp.isEmpty() || cp.split(File.pathSeparator).length < 2, cp);
    }

    @Test
    void generationPrintsItsTokensAndTimings() {
        try (Model m = Model.load(Shared.DIR.resolve("models/stories260K.gguf"))) {
            Generation g = new Generator(m.newSession()).generate("Once upon a time", GenerationOptions.greedy(20), s -> { });
            String s = g.toString();
            assertFalse(s.contains("[I@"), s);
            // the ids themselves, printed independently of the record
            StringBuilder first = new StringBuilder();
            for (int i = 0; i < g.promptTokens().length; i++) first.append(i > 0 ? ", " : "").append(g.promptTokens()[i]);
            assertTrue(s.contains("promptTokens=[" + first + "]"), s);
            assertTrue(s.contains(", ... (20 in all)]") || g.tokens().length < 20, s);
            assertTrue(s.contains("tok/s"), s);
        }
    }
}
