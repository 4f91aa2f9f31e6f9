package dev.tiller.steering.train;

import dev.tiller.engine.model.BlockOps;
import dev.tiller.kernels.WeightMatrix;

/**
 * The ops of the differentiable forward pass ({@link DiffTransformer}) and their backwards, side by side: one
 * implementation per number type and device, so that training's forward and backward are written once, as ggml
 * writes its graph once for every backend. {@link CpuDoubleOps} is the float64 reference on the host;
 * {@link CudaFloatOps} runs the same ops in float32 on the GPU.
 *
 * <p>The forward's ops are the engine's {@link BlockOps}: the forward itself is the engine's
 * {@link dev.tiller.engine.model.TransformerForward}, the same code the CPU's inference runs. What is
 * declared again here is declared next to its backward.
 *
 * <p>Tensors are {@link Buf}s the backend owns: flat runs of numbers, row-major [rows][width] where an op says so.
 * Weights are never copied by an op: a backend reads them where the model keeps them (the memory-mapped file, or the
 * device copy of a CUDA model). Every backward op <em>adds</em> into its gradient outputs unless it says it writes.
 */
public interface DiffOps extends BlockOps<DiffOps.Buf>, AutoCloseable {

    /** A tensor held by the backend. */
    interface Buf {
        /** Numbers it holds. */
        long length();
    }

    /** What the backend is, for logs ("CPU float64", the GPU's name). */
    String describe();

    /** Called on the thread that is about to run a forward or a backward (a GPU backend makes its context current). */
    default void begin() {}

    // ---- memory ----

    /** A new buffer of {@code n} zeros. */
    Buf zeros(long n);

    /** A new buffer holding {@code src}'s numbers. */
    Buf copy(Buf src);

    /** dst = src (same length). */
    void copyInto(Buf dst, Buf src);

    void zero(Buf b);

    Buf upload(double[] host);

    double[] download(Buf b);

    /** Frees the buffer now (device memory); null is ignored. The host backend leaves it to the garbage collector. */
    void release(Buf b);

    /** Bytes one number takes (8 for float64, 4 for float32). */
    int bytesPerNumber();

    /** Memory the backend could still use now, in bytes (the device's free memory, or the heap's headroom). */
    long availableBytes();

    /** The most memory the backend has held at once, in bytes, or -1 when it does not track it (the host). */
    default long peakBytes() {
        return -1;
    }

    @Override
    default void close() {}

    // ---- embedding, slices, adds ----

    /** x[rows[i]] = token embedding of tokens[i], rows of width dim. */
    void embed(WeightMatrix table, int[] tokens, int[] rows, Buf x, int dim);

    /**
     * For each i: dst[dstOff[i] .. + width) = (accumulate ? dst : 0) + src[srcOff[i] .. + width). Places prefix vectors
     * into their rows, gathers the rows that want logits, and (accumulating) the backwards of both.
     */
    void slices(Buf dst, long[] dstOff, Buf src, long[] srcOff, int width, boolean accumulate);

    /** y[r] += v[vOff .. vOff + width) for each of {@code rows} rows: a steering bias. */
    void addRowVector(Buf y, int rows, Buf v, long vOff, int width);

    /** y[r] += bias for each of {@code rows} rows: a frozen bias of the model. */
    @Override
    void addBias(Buf y, int rows, float[] bias);

    /** out[outOff + c] += Σ_r y[r][c]: the backward of {@link #addRowVector} (the gradient of the vector). */
    void addColumnSums(Buf out, long outOff, Buf y, int rows, int width);

    /** y += x. */
    @Override
    void add(Buf y, Buf x);

    // ---- RMSNorm ----

    /**
     * out[r] = x[r] / rms(x[r]) · weight for rows of width d (out may be x). Returns what {@link #rmsnormBackward} needs
     * besides x (the host keeps each row's inverse RMS; a backend that recomputes it may return null).
     */
    @Override
    Buf rmsnorm(Buf out, Buf x, float[] weight, int rows, int d, float eps);

    /** dx += d rmsnorm(x) / dx · dy, given the input x and what {@link #rmsnorm} returned. */
    void rmsnormBackward(Buf dx, Buf x, Buf saved, float[] weight, Buf dy, int rows, int d, float eps);

    // ---- products with frozen weights ----

    /** y[n][w.rows] = x[n][w.cols] · Wᵀ (writes y). */
    @Override
    void matmul(WeightMatrix w, Buf x, int n, Buf y);

    /** dx[n][w.cols] += dy[n][w.rows] · W. */
    void matmulTransposeAdd(WeightMatrix w, Buf dy, int n, Buf dx);

    // ---- RoPE and attention over packed sequences ----

    /** Rotates each of the {@code heads} heads of every row by its position; {@code inverse} turns back (the backward). */
    void rope(Buf x, int heads, Packing pk, boolean inverse);

    /**
     * Causal grouped-query attention inside each sequence of the packing (writes out): out[t] = Σ_j softmax_j(s_j) v_j
     * over the rows j of t's sequence at positions max(0, pos − window + 1) .. pos (window 0: all), with
     * s_j = q·k_j · scale, soft-capped to cap · tanh(s_j / cap) when cap &gt; 0 (gemma2).
     */
    void attention(Buf q, Buf k, Buf v, Buf out, Packing pk, Attention a);

    /** dq, dk, dv += the backward of {@link #attention} given dOut, the probabilities recomputed. */
    void attentionBackward(Buf q, Buf k, Buf v, Buf dOut, Buf dq, Buf dk, Buf dv, Packing pk, Attention a);

    /** One layer's attention: the score scale, the soft-cap (0: none) and the sliding window (0: none). */
    record Attention(double scale, double cap, int window) {}

    // ---- element-wise ----

    /** y *= a (gemma2's embedding scale). */
    @Override
    void scale(Buf y, double a);

    /** y = cap · tanh(y / cap) in place over {@code rows} rows of {@code width} (gemma2's final logits). */
    @Override
    void softcap(Buf y, int rows, int width, double cap);

    /** dy *= 1 − (y / cap)² given the capped output y: the backward of {@link #softcap}, in place. */
    void softcapBackward(Buf dy, Buf y, double cap);

    // ---- losses: the rows of logits stay where the backend holds them (152k-wide rows of thousands of tokens would
    //      not fit the host as doubles); only one number per row comes back ----

    /** log softmax(logits[r])[targets[r]] for each of {@code rows} rows of width vocab. */
    double[] logProbs(Buf logits, int rows, int vocab, int[] targets);

    /** dLogits[r] += coef[r] · ∂ log p_r(targets[r]) / ∂ logits[r] = coef[r] · (onehot(targets[r]) − softmax(logits[r])). */
    void addLogProbGradient(Buf dLogits, Buf logits, int rows, int vocab, int[] targets, double[] coef);

    /**
     * The entropy H_r = −Σ p log p of softmax(logits[r]) for each row; when dLogits is not null, dLogits[r] += coef[r] ·
     * ∂H_r/∂logits[r] = coef[r] · (−p (log p + H_r)).
     */
    double[] entropies(Buf logits, int rows, int vocab, double[] coef, Buf dLogits);

    // ---- gated MLP: SwiGLU, GeGLU (gemma2) ----

    /** h = silu(gate) · up (writes h). */
    @Override
    void siluMul(Buf h, Buf gate, Buf up);

    /** Writes dGate and dUp of {@link #siluMul} given dh. */
    void siluMulBackward(Buf dGate, Buf dUp, Buf gate, Buf up, Buf dh);

    /** h = gelu_tanh(gate) · up (writes h). */
    @Override
    void geluMul(Buf h, Buf gate, Buf up);

    /** Writes dGate and dUp of {@link #geluMul} given dh. */
    void geluMulBackward(Buf dGate, Buf dUp, Buf gate, Buf up, Buf dh);
}
