package dev.tiller.loader.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;

/**
 * Seeds Jazzer's generated corpus ({@code .cifuzz-corpus/CLASS/METHOD/} in the module, git-ignored) from {@link Seeds}
 * before a fuzzing run ({@code JAZZER_FUZZ=1}), so coverage-guided fuzzing starts from real file structures rather
 * than from empty input. Does nothing in regression mode.
 */
public final class JazzerCorpus {
    /** libFuzzer's default -max_len is the largest seed; keep seeds small enough to mutate quickly. */
    public static final int MAX_SEED_BYTES = 256 << 10;

    private JazzerCorpus() {
    }

    public static boolean fuzzing() {
        String v = System.getenv("JAZZER_FUZZ");
        return v != null && !v.isEmpty() && !v.equals("0");
    }

    public static void seed(Class<?> testClass, String method, List<byte[]> seeds) {
        if (!fuzzing()) return;
        Path dir = Path.of(".cifuzz-corpus", testClass.getName(), method);
        try {
            Files.createDirectories(dir);
            for (byte[] s : seeds) {
                if (s.length > MAX_SEED_BYTES) continue;
                byte[] digest = java.security.MessageDigest.getInstance("SHA-1").digest(s);
                Path p = dir.resolve("seed-" + HexFormat.of().formatHex(digest));
                if (!Files.exists(p)) Files.write(p, s);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
