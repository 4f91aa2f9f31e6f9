package dev.tiller.engine.model;

import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.VectorOps;
import dev.tiller.kernels.WeightMatrix;

/**
 * {@link BlockOps} of the CPU's float32 inference over {@code float[]}: the engine's Vector API kernels, weights read in
 * place in their file format. Products of one input run as one parallel job ({@link MatMul}'s shared-input
 * {@code matmul}), and the MLP's activation is split over the worker pool. Stateless: one instance serves every model
 * and thread.
 */
public final class CpuFloatOps implements BlockOps<float[]> {
    public static final CpuFloatOps INSTANCE = new CpuFloatOps();

    /** Fewest gate values per task of the MLP's activation (a decoded token's 4,864 stay on one thread). */
    private static final int ACTIVATION_CHUNK = 16 * 1024;

    private CpuFloatOps() {}

    @Override
    public float[] rmsnorm(float[] out, float[] x, float[] weight, int rows, int d, float eps) {
        for (int r = 0; r < rows; r++) VectorOps.rmsnorm(out, r * d, x, r * d, weight, d, eps);
        return null;
    }

    @Override
    public void matmul(WeightMatrix w, float[] x, int n, float[] y) {
        MatMul.matmul(w, x, n, y);
    }

    @Override
    public void matmul(float[] x, int n, WeightMatrix w1, float[] y1, WeightMatrix w2, float[] y2) {
        MatMul.matmul(x, n, w1, y1, w2, y2);   // one input, one parallel job
    }

    @Override
    public void matmul(float[] x, int n, WeightMatrix w1, float[] y1, WeightMatrix w2, float[] y2, WeightMatrix w3, float[] y3) {
        MatMul.matmul(x, n, w1, y1, w2, y2, w3, y3);
    }

    @Override
    public void addBias(float[] y, int rows, float[] bias) {
        for (int t = 0; t < rows; t++) VectorOps.add(y, t * bias.length, bias, 0, bias.length);
    }

    @Override
    public void add(float[] y, float[] x) {
        VectorOps.add(y, 0, x, 0, y.length);
    }

    @Override
    public void scale(float[] y, double a) {
        VectorOps.scale(y, 0, y.length, (float) a);
    }

    @Override
    public void softcap(float[] y, int rows, int width, double cap) {
        VectorOps.softcap(y, 0, rows * width, (float) cap);
    }

    // element-wise, but a prompt's n x ffn values are worth all threads (one alone left the others waiting)

    @Override
    public void siluMul(float[] h, float[] gate, float[] up) {
        if (h != gate) System.arraycopy(gate, 0, h, 0, h.length);
        Parallel.forRange(h.length, ACTIVATION_CHUNK, (from, to) -> VectorOps.siluMul(h, from, up, from, to - from));
    }

    @Override
    public void geluMul(float[] h, float[] gate, float[] up) {
        if (h != gate) System.arraycopy(gate, 0, h, 0, h.length);
        Parallel.forRange(h.length, ACTIVATION_CHUNK, (from, to) -> VectorOps.geluTanhMul(h, from, up, from, to - from));
    }
}
