package dev.tiller.steering.cli;

import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.steering.Positions;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code tiller steer-overhead}: decode speed with and without a steering vector, rounds interleaved so that machine
 * noise hits both alike; prints the median time per token of each and their ratio.
 */
@Command(name = "steer-overhead", mixinStandardHelpOptions = true, description = "Measure the decode-time cost of steering.")
public final class OverheadCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = "--vector", required = true, paramLabel = "FILE", description = ".gguf control vector or .steer")
    Path vector;

    @Option(names = "--positions", defaultValue = "all", description = "positions spec of the steering (default: ${DEFAULT-VALUE})")
    String positions;

    @Option(names = "--norm-preserving", description = "measure the norm-preserving mode")
    boolean normPreserving;

    @Option(names = {"-n", "--tokens"}, defaultValue = "200", description = "decode steps per round (default: ${DEFAULT-VALUE})")
    int tokens;

    @Option(names = "--rounds", defaultValue = "15", description = "interleaved rounds (default: ${DEFAULT-VALUE})")
    int rounds;

    @Override
    public Integer call() {
        try (Model model = modelOptions.load()) {
            List<SteeringVector> vs = VectorFiles.load(vector, model);
            Session plain = model.newSession(tokens + 2), steered = model.newSession(tokens + 2);
            Steering st = new Steering(model.config());
            for (SteeringVector v : vs) st.add(v.withPositions(Positions.parse(positions)).withNormPreserving(normPreserving), 0.5f);
            st.install(steered);
            int bos = Math.max(0, model.tokenizer().bosId());
            long[] a = new long[rounds], b = new long[rounds];
            for (int r = -2; r < rounds; r++) { // two warm-up rounds
                long ta = run(plain, bos), tb = run(steered, bos);
                if (r >= 0) {
                    a[r] = ta;
                    b[r] = tb;
                }
            }
            Arrays.sort(a);
            Arrays.sort(b);
            double ma = a[rounds / 2] / 1e3 / tokens, mb = b[rounds / 2] / 1e3 / tokens;
            System.out.printf(Locale.ROOT, "model %s, %d decode steps x %d rounds, vector %s on %d blocks (positions %s%s)%n",
                    modelOptions.model.getFileName(), tokens, rounds, vector.getFileName(), vs.stream().mapToInt(v -> v.directions().size()).sum(),
                    positions, normPreserving ? ", norm-preserving" : "");
            System.out.printf(Locale.ROOT, "median per token: plain %.2f us, steered %.2f us, ratio %.4f (overhead %+.2f%%)%n", ma, mb, mb / ma, (mb / ma - 1) * 100);
        }
        return 0;
    }

    /** Nanoseconds for {@code tokens} decode steps after a one-token prompt, feeding a fixed token sequence. */
    private long run(Session s, int bos) {
        s.reset();
        s.prefill(new int[]{bos});
        long t0 = System.nanoTime();
        for (int i = 0; i < tokens; i++) s.decode(3 + (i * 7) % 200);
        return System.nanoTime() - t0;
    }
}
