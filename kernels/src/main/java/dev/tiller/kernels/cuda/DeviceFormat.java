package dev.tiller.kernels.cuda;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;

/**
 * How a weight matrix is held on the device, and what reads it. F32, F16 and BF16 are stored as in the file; Q8_0,
 * Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q5_K and Q6_K stay quantized (layouts in the comments of {@code tiller_kernels.cu}):
 * Q8_0 / Q4_0 / Q5_0 / Q4_1 / Q5_1 repacked at upload into an array of quants (Q5_0 / Q5_1: 20-byte blocks, nibbles
 * then fifth bits) and an array of f16 scales (Q4_1 / Q5_1: pairs d, m), Q4_K / Q5_K as stored (their 144- and
 * 176-byte blocks are already 16-byte aligned), Q6_K repacked into 208-byte blocks and an array of f16 block scales. Every other ggml format is dequantized
 * on the host and held as F16.
 *
 * <p>A product of at most {@link CudaDevice#GEMV_MAX_ROWS} activation rows (decode) reads every format but F32
 * directly with the GEMV kernel of the format ({@link #gemvKernel}); larger products are cuBLAS GEMMs in
 * {@link #cublasType}, for which the quantized formats are dequantized to F16 a tile of rows at a time.
 */
public enum DeviceFormat {
    F32(Cublas.CUDA_R_32F, null, 1),
    F16(Cublas.CUDA_R_16F, "gemv_f16", 8),
    BF16(Cublas.CUDA_R_16BF, "gemv_bf16", 8),
    Q8_0(Cublas.CUDA_R_16F, "gemv_q8_0", 16),
    Q4_0(Cublas.CUDA_R_16F, "gemv_q4_0", 32),
    Q4_K(Cublas.CUDA_R_16F, "gemv_q4_k", 32),
    Q6_K(Cublas.CUDA_R_16F, "gemv_q6_k", 64),
    Q5_K(Cublas.CUDA_R_16F, "gemv_q5_k", 32),
    Q5_0(Cublas.CUDA_R_16F, "gemv_q5_0", 32),
    Q4_1(Cublas.CUDA_R_16F, "gemv_q4_1", 32),
    Q5_1(Cublas.CUDA_R_16F, "gemv_q5_1", 32);

    /** The type cuBLAS reads this matrix (or, quantized, its dequantized tiles) and the GEMM input in. */
    public final int cublasType;
    /** The GEMV kernel for few-row products, or null where cuBLAS does every product (F32: small test models). */
    public final String gemvKernel;
    /** Columns one lane of the GEMV reads per 16-byte load: the row length must be a multiple of it. */
    public final int vec;

    DeviceFormat(int cublasType, String gemvKernel, int vec) {
        this.cublasType = cublasType;
        this.gemvKernel = gemvKernel;
        this.vec = vec;
    }

    /** The device form of a stored type: F32, BF16 and every quantized type the engine reads as themselves, others F16. */
    public static DeviceFormat of(GGMLType stored) {
        return switch (stored) {
            case F32 -> F32;
            case BF16 -> BF16;
            case Q8_0 -> Q8_0;
            case Q4_0 -> Q4_0;
            case Q4_K -> Q4_K;
            case Q5_K -> Q5_K;
            case Q6_K -> Q6_K;
            case Q5_0 -> Q5_0;
            case Q4_1 -> Q4_1;
            case Q5_1 -> Q5_1;
            default -> F16;
        };
    }

    /**
     * The device form of a weight tensor; IllegalArgumentException, naming the tensor and its type, for a type that
     * cannot be held on the device (one that the engine cannot dequantize either).
     */
    public static DeviceFormat of(Tensor t) {
        if (!t.type().computable) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' has type " + t.type() + ", which --device cuda cannot hold (F32, F16, BF16,"
                    + " Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q4_K, Q5_K and Q6_K are held quantized)");
        }
        DeviceFormat f = of(t.type());
        if (f.quantized() && t.ne(0) % f.blockWeights() != 0) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' has type " + t.type() + " with rows of " + t.ne(0)
                    + " elements, not a multiple of its " + f.blockWeights() + "-weight blocks");
        }
        return of(t.type());
    }

    public boolean quantized() {
        return this != F32 && this != F16 && this != BF16;
    }

    /** Weights per quantized block (a row is whole blocks); 1 for the float formats: the stored type's block size. */
    public int blockWeights() {
        return GGMLType.valueOf(name()).blockSize;
    }

    /** Whether the device form has an array of f16 block scales after the quants (Q4_K / Q5_K keep theirs in their blocks). */
    public boolean hasScales() {
        return quantized() && this != Q4_K && this != Q5_K;
    }

    /** The format number {@code embed_gather_q} takes: the stored type's ggml number. */
    int embedCode() {
        if (!quantized()) throw new IllegalArgumentException("embed_gather_q reads quantized tables, not " + this);
        return GGMLType.valueOf(name()).id;
    }

    /** Whether the GEMV kernel can read rows of {@code cols} elements (aligned rows, whole loads). */
    public boolean gemvReads(int cols) {
        return gemvKernel != null && cols % vec == 0;
    }

    /** Bytes of quants (or elements) of one row of {@code cols}. */
    public long rowBytes(int cols) {
        return switch (this) {
            case F32 -> 4L * cols;
            case F16, BF16 -> 2L * cols;
            case Q8_0 -> cols;
            case Q4_0 -> cols / 2;
            case Q5_0, Q5_1 -> cols / 32 * 20L;
            case Q4_1 -> cols / 2;
            case Q4_K -> cols / 256 * 144L;
            case Q5_K -> cols / 256 * 176L;
            case Q6_K -> cols / 256 * 208L;
        };
    }

    /** Bytes of f16 scales of one row of {@code cols} (0 for the unquantized formats, Q4_K and Q5_K). */
    public long scaleBytes(int cols) {
        if (this == Q4_1 || this == Q5_1) return 4L * (cols / 32); // d and m of every block
        return hasScales() ? 2L * (cols / blockWeights()) : 0;
    }

    /** Device bytes of a {@code rows} x {@code cols} matrix, quants and scales. */
    public long bytes(int rows, int cols) {
        return rows * (rowBytes(cols) + scaleBytes(cols));
    }
}
