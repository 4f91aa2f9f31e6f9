package dev.tiller.steering.train;

/**
 * Adam / AdamW on a flat parameter vector, with global-norm gradient clipping and a learning-rate schedule
 * (linear warm-up, then constant or cosine decay to 10%).
 */
public final class Adam {
    private final double lr, beta1, beta2, eps, weightDecay, clip;
    private final int warmup, totalSteps;
    private final boolean cosine;
    private final double[] m, v;
    private int step;

    public Adam(int size, double lr, double weightDecay, double clip, int warmup, int totalSteps, boolean cosine) {
        this.lr = lr;
        this.beta1 = 0.9;
        this.beta2 = 0.999;
        this.eps = 1e-8;
        this.weightDecay = weightDecay;
        this.clip = clip;
        this.warmup = warmup;
        this.totalSteps = totalSteps;
        this.cosine = cosine;
        this.m = new double[size];
        this.v = new double[size];
    }

    public double learningRate(int s) {
        double f = warmup > 0 && s < warmup ? (s + 1.0) / warmup : 1.0;
        if (cosine && totalSteps > warmup) {
            double prog = Math.min(1, Math.max(0, (s - warmup) / (double) (totalSteps - warmup)));
            f *= 0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * prog));
        }
        return lr * f;
    }

    /** One update of theta in place; returns the gradient's norm before clipping. */
    public double step(double[] theta, double[] grad) {
        double norm = 0;
        for (double g : grad) norm += g * g;
        norm = Math.sqrt(norm);
        double scale = clip > 0 && norm > clip ? clip / norm : 1;
        double a = learningRate(step);
        step++;
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        for (int i = 0; i < theta.length; i++) {
            double g = grad[i] * scale;
            m[i] = beta1 * m[i] + (1 - beta1) * g;
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;
            double upd = (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps);
            theta[i] -= a * (upd + weightDecay * theta[i]);
        }
        return norm;
    }

    public int steps() {
        return step;
    }
}
