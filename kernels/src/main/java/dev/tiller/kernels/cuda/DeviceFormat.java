package dev.tiller.kernels.cuda;

import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;

/**
 * How a weight matrix is held on the device, and what reads it. F32, F16 and BF16 are stored as in the file; Q8_0 and
 * Q4_0 stay quantized, repacked at upload into an array of quants and an array of f16 scales (layout in the comments of
 * {@code tiller_kernels.cu}); every other ggml format is dequantized on the host and held as F16.
 *
 * <p>A product of at most {@link CudaDevice#GEMV_MAX_ROWS} activation rows (decode) reads F16, BF16, Q8_0 and Q4_0
 * directly with the GEMV kernel of the format ({@link #gemvKernel}); larger products are cuBLAS GEMMs in
 * {@link #cublasType}, for which Q8_0 / Q4_0 are dequantized to F16 a tile of rows at a time.
 */
public enum DeviceFormat {
    F32(Cublas.CUDA_R_32F, null, 1),
    F16(Cublas.CUDA_R_16F, "gemv_f16", 8),
    BF16(Cublas.CUDA_R_16BF, "gemv_bf16", 8),
    Q8_0(Cublas.CUDA_R_16F, "gemv_q8_0", 16),
    Q4_0(Cublas.CUDA_R_16F, "gemv_q4_0", 32);

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

    /** The device form of a stored type: F32 / F16 / BF16 / Q8_0 / Q4_0 as themselves, any other format as F16. */
    public static DeviceFormat of(GGMLType stored) {
        return switch (stored) {
            case F32 -> F32;
            case BF16 -> BF16;
            case Q8_0 -> Q8_0;
            case Q4_0 -> Q4_0;
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
                    + " Q8_0 and Q4_0 are held as stored; other formats the engine computes with are dequantized to F16)");
        }
        if (of(t.type()).quantized() && t.ne(0) % 32 != 0) {
            throw new IllegalArgumentException("tensor '" + t.name() + "' has type " + t.type() + " with rows of " + t.ne(0)
                    + " elements, not a multiple of its 32-weight blocks");
        }
        return of(t.type());
    }

    public boolean quantized() {
        return this == Q8_0 || this == Q4_0;
    }

    /** Whether the GEMV kernel can read rows of {@code cols} elements (16-byte aligned rows, whole loads). */
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
        };
    }

    /** Bytes of f16 scales of one row of {@code cols} (0 for the unquantized formats). */
    public long scaleBytes(int cols) {
        return quantized() ? 2L * (cols / 32) : 0;
    }

    /** Device bytes of a {@code rows} x {@code cols} matrix, quants and scales. */
    public long bytes(int rows, int cols) {
        return rows * (rowBytes(cols) + scaleBytes(cols));
    }
}
