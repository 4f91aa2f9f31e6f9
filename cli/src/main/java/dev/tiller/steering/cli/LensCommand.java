package dev.tiller.steering.cli;

import dev.tiller.cli.ModelOptions;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.steering.ActivationCapture;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.lens.LogitLens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code tiller lens}: the logit lens on a prompt's residual stream, or on a steering vector's directions. */
@Command(name = "lens", mixinStandardHelpOptions = true, description = "Project residuals or steering vectors through the final norm and unembedding.")
public final class LensCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "read the residual of this prompt's last token at every block")
    String prompt;

    @Option(names = "--vector", paramLabel = "FILE", description = "read a steering vector (.gguf or .steer) direction by direction")
    Path vector;

    @Option(names = "--site", defaultValue = "hook_resid_post", description = "site of the prompt's residual (default: ${DEFAULT-VALUE})")
    String site;

    @Option(names = "--top", defaultValue = "8", description = "tokens shown each way (default: ${DEFAULT-VALUE})")
    int top;

    @Override
    public Integer call() {
        if ((prompt == null) == (vector == null)) throw new IllegalArgumentException("give either -p TEXT or --vector FILE");
        try (Model model = modelOptions.load()) {
            LogitLens lens = new LogitLens(model);
            if (prompt != null) {
                HookSite s = SteeringArgs.site(site);
                Session session = model.newSession();
                String[] points = new String[model.config().layers()];
                for (int l = 0; l < points.length; l++) points[l] = new HookPoint(s, l).name();
                ActivationCapture cap = ActivationCapture.install(session, points);
                session.prefill(model.tokenizer().encode(prompt, true, true));
                System.out.println("| block | top tokens (" + s.suffix + ", last token) |");
                System.out.println("|---|---|");
                for (int l = 0; l < points.length; l++) {
                    float[] logits = lens.residualLogits(cap.last(points[l]));
                    System.out.println("| " + l + " | " + fmt(lens.top(logits, top, true)) + " |");
                }
            } else {
                for (SteeringVector v : VectorFiles.load(vector, model)) {
                    System.out.println("vector '" + v.name() + "' at " + v.site().suffix + " (scale " + v.scale() + ")");
                    System.out.println("| block | pushed up | pushed down |");
                    System.out.println("|---|---|---|");
                    v.directions().forEach((l, d) -> {
                        float[] logits = lens.directionLogits(d);
                        System.out.println("| " + l + " | " + fmt(lens.top(logits, top, true)) + " | " + fmt(lens.top(logits, top, false)) + " |");
                    });
                }
            }
        }
        return 0;
    }

    private static String fmt(List<LogitLens.TokenScore> l) {
        return l.stream().map(t -> "`" + t.text().replace("|", "\\|") + "` " + String.format("%.2f", t.logit())).collect(Collectors.joining(", "));
    }
}
