package dev.tiller.engine.model;

import dev.tiller.kernels.WeightMatrix;

/**
 * The math of the forward pass on one backend's buffers of type {@code B}: what {@link TransformerForward} computes
 * with, whatever the numbers are and wherever they live. {@link CpuFloatOps} is the CPU's float32 inference
 * ({@code float[]}, the engine's Vector API kernels); training's {@code DiffOps} (steering module) extends this
 * interface with each op's backward, for its float64 host backend and its float32 GPU backend.
 *
 * <p>Buffers are row-major [rows][width] and hold exactly what the pass gives them (rows of the pass times the
 * width), so an op without a row count works on all of a buffer. Weights are never copied: a backend reads them
 * where the model keeps them. Nothing here knows about positions, caches or sequences: those are the pass's
 * ({@link PassOps}).
 *
 * <p>Adding an op: declare it here, implement it in {@link CpuFloatOps} and in the training backends (there with its
 * backward, next to it in {@code DiffOps}), and call it from {@link TransformerForward} under a guard that the
 * families without the step skip (a null weight, a zero setting).
 */
public interface BlockOps<B> {

    /**
     * out[r] = x[r] / rms(x[r]) · weight for {@code rows} rows of width d (out may be x). Returns what a backward
     * needs besides x (training keeps each row's inverse RMS), or null (inference, or a backend that recomputes it).
     */
    B rmsnorm(B out, B x, float[] weight, int rows, int d, float eps);

    /** y[n][w.rows] = x[n][w.cols] · Wᵀ (writes y). */
    void matmul(WeightMatrix w, B x, int n, B y);

    /**
     * Two products of one input (gate and up): y1 = x · W1ᵀ, y2 = x · W2ᵀ. A backend may run them as one job (the
     * CPU's float32 kernels pack x once and split the rows of both over the threads); by default, two products in
     * this order.
     */
    default void matmul(B x, int n, WeightMatrix w1, B y1, WeightMatrix w2, B y2) {
        matmul(w1, x, n, y1);
        matmul(w2, x, n, y2);
    }

    /** Three products of one input (q, k and v), as the two-product {@code matmul} above. */
    default void matmul(B x, int n, WeightMatrix w1, B y1, WeightMatrix w2, B y2, WeightMatrix w3, B y3) {
        matmul(w1, x, n, y1);
        matmul(w2, x, n, y2);
        matmul(w3, x, n, y3);
    }

    /** y[r] += bias for each of {@code rows} rows: a frozen bias of the model (qwen2's q/k/v). */
    void addBias(B y, int rows, float[] bias);

    /** y += x (same length): a branch joins the residual stream. */
    void add(B y, B x);

    /** y *= a (gemma's embedding scale). */
    void scale(B y, double a);

    /** y = cap · tanh(y / cap) in place over {@code rows} rows of {@code width} (gemma2's final logits). */
    void softcap(B y, int rows, int width, double cap);

    /** h = silu(gate) · up, element by element (SwiGLU); h may be gate (inference overwrites it). */
    void siluMul(B h, B gate, B up);

    /** h = gelu_tanh(gate) · up (GeGLU, gemma2); h may be gate. */
    void geluMul(B h, B gate, B up);
}
