package dev.tiller.steering.lens;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.kernels.MatMul;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Reads a residual-stream vector as the model's last layer would: through the final RMSNorm and the unembedding.
 * A steering vector is read the same way, without the norm's 1/rms factor (it only rescales the logits, and a
 * direction has no meaningful rms of its own): {@code W_U · (g ⊙ v)}, whose largest and smallest entries are the
 * tokens it pushes up and down.
 */
public final class LogitLens {

    public record TokenScore(int id, String text, float logit) {}

    private final Model model;

    public LogitLens(Model model) {
        this.model = model;
    }

    /** Logits of a residual: unembed(rmsnorm(x) ⊙ g). */
    public float[] residualLogits(float[] x) {
        check(x);
        double ss = 0;
        for (float f : x) ss += (double) f * f;
        float r = (float) (1 / Math.sqrt(ss / x.length + model.config().rmsEps()));
        return unembed(x, r);
    }

    /** Logits a direction adds: unembed(g ⊙ v). */
    public float[] directionLogits(float[] v) {
        check(v);
        return unembed(v, 1f);
    }

    private float[] unembed(float[] x, float r) {
        ModelWeights w = model.weights();
        float[] g = w.outputNorm();
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * r * g[i];
        float[] logits = new float[model.config().vocabSize()];
        MatMul.matvec(w.output(), y, 0, logits, 0);
        return logits;
    }

    private void check(float[] x) {
        if (x.length != model.config().dim()) {
            throw new IllegalArgumentException("logit lens: vector of " + x.length + " values, the model's n_embd is " + model.config().dim());
        }
    }

    /** The k highest ({@code descending}) or lowest logits. */
    public List<TokenScore> top(float[] logits, int k, boolean descending) {
        Integer[] ids = new Integer[logits.length];
        for (int i = 0; i < ids.length; i++) ids[i] = i;
        Comparator<Integer> c = Comparator.comparingDouble(i -> logits[i]);
        Arrays.sort(ids, descending ? c.reversed() : c);
        List<TokenScore> out = new ArrayList<>();
        for (int i = 0; i < Math.min(k, ids.length); i++) out.add(new TokenScore(ids[i], model.tokenizer().tokenText(ids[i]), logits[ids[i]]));
        return out;
    }
}
