package dev.tiller.bench;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.sampling.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Where do the CPU and the GPU part ways, and why. Both passes are fed the same tokens: the prompt, then the CPU's
 * own greedy choices (teacher forcing), so each step compares logits for an identical context. Per step it prints the
 * CPU's margin between its best and second-best token, the largest logit difference between the devices, and whether
 * their greedy choices agree. A step where the choices differ while the CPU's margin is smaller than the usual
 * difference is a near-tie decided by rounding; a difference that grows step after step, or a disagreement at a wide
 * margin, is a defect.
 */
@Command(name = "compare-devices", mixinStandardHelpOptions = true,
        description = "Teacher-forced CPU vs GPU logits along the CPU's greedy path: per-step margin, max |difference|, agreement.")
public final class CompareDevicesCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true)
    Path model;

    @Option(names = {"-p", "--prompt"}, required = true)
    String prompt;

    @Option(names = {"-n", "--n-predict"}, defaultValue = "32")
    int steps;

    @Override
    public Integer call() {
        if (steps < 1) throw new IllegalArgumentException("-n must be >= 1, got " + steps);
        try (Model cpu = Model.load(model); Model gpu = Model.load(model, Device.CUDA)) {
            int vocab = cpu.config().vocabSize();
            int[] tokens = cpu.tokenizer().encode(prompt, true, false);
            Session a = cpu.newSession(tokens.length + steps + 1), b = gpu.newSession(tokens.length + steps + 1);
            float[] la = a.prefill(tokens).clone(), lb = b.prefill(tokens);
            System.out.printf(Locale.ROOT, "%s, prompt %d tokens, GPU: %s%n", model.getFileName(), tokens.length, gpu.describeDevice());
            System.out.println("| step | cpu token | gpu token | cpu margin (top1 - top2) | max |cpu - gpu| | agree |");
            System.out.println("|---|---|---|---|---|---|");
            int firstDisagreement = -1;
            double sumDiff = 0;
            for (int i = 0; i < steps; i++) {
                int ta = Sampler.argmax(la, vocab), tb = Sampler.argmax(lb, vocab);
                double margin = la[ta] - second(la, vocab, ta), diff = 0;
                for (int v = 0; v < vocab; v++) diff = Math.max(diff, Math.abs(la[v] - lb[v]));
                sumDiff += diff;
                if (ta != tb && firstDisagreement < 0) firstDisagreement = i;
                System.out.printf(Locale.ROOT, "| %d | %d | %d | %.4f | %.4f | %s |%n", i, ta, tb, margin, diff, ta == tb ? "yes" : "NO");
                la = a.decode(ta).clone();
                lb = b.decode(ta);
            }
            System.out.printf(Locale.ROOT, "mean max|difference| %.4f; first disagreement: %s%n", sumDiff / steps,
                    firstDisagreement < 0 ? "none" : "step " + firstDisagreement);
        }
        return 0;
    }

    static float second(float[] x, int n, int skip) {
        float best = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) if (i != skip && x[i] > best) best = x[i];
        return best;
    }
}
