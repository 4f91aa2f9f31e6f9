package dev.tiller.kernels.cuda.emulator;

import dev.tiller.kernels.VectorOps;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

/**
 * {@code cublasGemmEx} computed on the host: column-major {@code C = alpha op(A) op(B) + beta C} with A and B in
 * float32, float16 or bfloat16, C float32 and float32 accumulation, as the engine calls it. Argument checks follow
 * cuBLAS's documented {@code CUBLAS_STATUS_INVALID_VALUE} cases (negative sizes, leading dimensions too small), so a
 * wrong call fails here as it would on the GPU. When beta is 0, C is not read (cuBLAS's rule, which lets C start as
 * uninitialised memory).
 *
 * <p>Work is blocked into 64 rows of op(A) times 64 columns of op(B), each operand block widened to float once and
 * multiplied with vector dot products, the row blocks in parallel.
 */
final class HostGemm {
    static final int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14, CUBLAS_COMPUTE_32F = 68, OP_N = 0, OP_T = 1;
    static final int STATUS_SUCCESS = 0, STATUS_INVALID_VALUE = 7, STATUS_NOT_SUPPORTED = 15;
    private static final int BLOCK = 64;

    /** Thrown for a call cuBLAS would refuse; carries the cuBLAS status. */
    static final class GemmRefused extends RuntimeException {
        final int status;

        GemmRefused(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    static void gemm(DeviceMemory mem, int opA, int opB, int m, int n, int k, float alpha, long a, int aType, int lda, long b, int bType,
                     int ldb, float beta, long c, int cType, int ldc, int computeType) {
        if (opA != OP_N && opA != OP_T || opB != OP_N && opB != OP_T) throw new GemmRefused(STATUS_INVALID_VALUE, "transa/transb " + opA + "/" + opB);
        if (m < 0 || n < 0 || k < 0) throw new GemmRefused(STATUS_INVALID_VALUE, "negative size m=" + m + " n=" + n + " k=" + k);
        if (lda < Math.max(1, opA == OP_N ? m : k)) throw new GemmRefused(STATUS_INVALID_VALUE, "lda " + lda + " too small");
        if (ldb < Math.max(1, opB == OP_N ? k : n)) throw new GemmRefused(STATUS_INVALID_VALUE, "ldb " + ldb + " too small");
        if (ldc < Math.max(1, m)) throw new GemmRefused(STATUS_INVALID_VALUE, "ldc " + ldc + " too small");
        if (aType != bType || cType != CUDA_R_32F || computeType != CUBLAS_COMPUTE_32F || width(aType) == 0) {
            throw new GemmRefused(STATUS_NOT_SUPPORTED, "types A " + aType + " B " + bType + " C " + cType + " compute " + computeType);
        }
        if (m == 0 || n == 0) return;
        // the whole extent of each operand must lie inside its allocation
        MemorySegment as = k == 0 ? null : mem.range(a, extent(opA == OP_N ? m : k, opA == OP_N ? k : m, lda) * width(aType));
        MemorySegment bs = k == 0 ? null : mem.range(b, extent(opB == OP_N ? k : n, opB == OP_N ? n : k, ldb) * width(bType));
        MemorySegment cs = mem.range(c, extent(m, n, ldc) * 4L);
        for (int j0 = 0; j0 < n; j0 += BLOCK) {
            int jn = Math.min(BLOCK, n - j0), fj0 = j0;
            float[] bBlock = new float[jn * k];
            for (int j = 0; j < jn; j++) for (int p = 0; p < k; p++) bBlock[j * k + p] = opB == OP_N ? load(bs, bType, p + (long) (fj0 + j) * ldb)
                    : load(bs, bType, (fj0 + j) + (long) p * ldb);
            IntStream.range(0, (m + BLOCK - 1) / BLOCK).parallel().forEach(ib -> {
                int i0 = ib * BLOCK, in = Math.min(BLOCK, m - i0);
                float[] aBlock = new float[in * k];
                for (int i = 0; i < in; i++) for (int p = 0; p < k; p++) aBlock[i * k + p] = opA == OP_N ? load(as, aType, (i0 + i) + (long) p * lda)
                        : load(as, aType, p + (long) (i0 + i) * lda);
                for (int j = 0; j < jn; j++) {
                    for (int i = 0; i < in; i++) {
                        long at = (i0 + i) + (long) (fj0 + j) * ldc;
                        float dot = k == 0 ? 0 : VectorOps.dot(aBlock, i * k, bBlock, j * k, k);
                        float v = alpha * dot;
                        if (beta != 0) v += beta * cs.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
                        cs.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at, v);
                    }
                }
            });
        }
    }

    /** Elements spanned by a column-major rows x cols matrix with leading dimension ld. */
    private static long extent(int rows, int cols, int ld) {
        return rows == 0 || cols == 0 ? 0 : (long) (cols - 1) * ld + rows;
    }

    private static int width(int type) {
        return switch (type) {
            case CUDA_R_32F -> 4;
            case CUDA_R_16F, CUDA_R_16BF -> 2;
            default -> 0;
        };
    }

    private static float load(MemorySegment s, int type, long i) {
        return switch (type) {
            case CUDA_R_32F -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case CUDA_R_16F -> ReferenceKernels.half(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            default -> ReferenceKernels.bf16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
        };
    }

    private HostGemm() {}
}
