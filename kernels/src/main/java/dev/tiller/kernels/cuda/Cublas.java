package dev.tiller.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * cuBLAS through {@code java.lang.foreign}: one handle, and {@link #gemm} over {@code cublasGemmEx} with float32
 * accumulation. Works with {@code libcublas.so.13} and {@code .so.12} alike (see {@link CudaLibraries}).
 *
 * <p>Row-major helpers: the engine's matrices are row-major ([rows][cols]); cuBLAS is column-major, so a row-major
 * [r][c] matrix is a column-major c x r matrix with leading dimension c, and {@code Y = X W^T} (X [n][in], W
 * [out][in], Y [n][out]) is the column-major {@code Y' = W'^T X'}.
 */
public final class Cublas implements AutoCloseable {
    public static final int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14;
    public static final int CUBLAS_COMPUTE_32F = 68;
    public static final int CUBLAS_GEMM_DEFAULT = -1;
    public static final int OP_N = 0, OP_T = 1;
    public static final int CUBLAS_DEFAULT_MATH = 0;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final String[] STATUS = {"CUBLAS_STATUS_SUCCESS", "CUBLAS_STATUS_NOT_INITIALIZED", "2", "CUBLAS_STATUS_ALLOC_FAILED",
            "4", "5", "6", "CUBLAS_STATUS_INVALID_VALUE", "CUBLAS_STATUS_ARCH_MISMATCH", "9", "10", "CUBLAS_STATUS_MAPPING_ERROR", "12",
            "CUBLAS_STATUS_EXECUTION_FAILED", "CUBLAS_STATUS_INTERNAL_ERROR", "CUBLAS_STATUS_NOT_SUPPORTED", "CUBLAS_STATUS_LICENSE_ERROR"};

    private final CudaLibraries.Loaded lib;
    private final MethodHandle create, destroy, setMathMode, gemmEx, getVersion, setStream, setWorkspace;
    private final MemorySegment handle;
    private final MemorySegment one, zero;

    private Cublas(CudaLibraries.Loaded lib) {
        this.lib = lib;
        SymbolLookup l = lib.lookup();
        create = h(l, "cublasCreate_v2", ADDRESS);
        destroy = h(l, "cublasDestroy_v2", ADDRESS);
        setMathMode = h(l, "cublasSetMathMode", ADDRESS, JAVA_INT);
        getVersion = h(l, "cublasGetVersion_v2", ADDRESS, ADDRESS);
        gemmEx = h(l, "cublasGemmEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        setStream = h(l, "cublasSetStream_v2", ADDRESS, ADDRESS);
        setWorkspace = h(l, "cublasSetWorkspace_v2", ADDRESS, ADDRESS, JAVA_LONG);
        Arena arena = Arena.global();
        one = arena.allocateFrom(JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(JAVA_FLOAT, 0f);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            check("cublasCreate_v2", (int) create.invokeExact(p));
            handle = p.get(ADDRESS, 0);
            // default math: no TF32 for float32 GEMMs, so F32 weights give float32 results as the CPU does
            check("cublasSetMathMode", (int) setMathMode.invokeExact(handle, CUBLAS_DEFAULT_MATH));
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Loads cuBLAS and creates a handle in the calling thread's current context. */
    public static Cublas create() {
        if (CudaLibraries.emulatorSelected()) return new Cublas(CudaLibraries.emulatedCublas());
        return new Cublas(CudaLibraries.load("cuBLAS library", CudaLibraries.CUBLAS_NAMES, CudaLibraries.CUBLAS_SYMBOLS, Arena.global(),
                System.getenv()));
    }

    public String libraryLocation() {
        return lib.location();
    }

    public int version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check("cublasGetVersion", (int) getVersion.invokeExact(handle, v));
            return v.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    private static MethodHandle h(SymbolLookup l, String name, MemoryLayout... args) {
        MemorySegment sym = l.find(name).orElseThrow(() -> new CudaUnavailableException("the cuBLAS library lacks " + name));
        return LINKER.downcallHandle(sym, FunctionDescriptor.of(JAVA_INT, args));
    }

    static String statusName(int s) {
        return s >= 0 && s < STATUS.length ? STATUS[s] : "CUBLAS_STATUS_" + s;
    }

    private void check(String call, int rc) {
        if (rc != 0) throw new CudaException(call, rc, CudaLibraries.withEmulatorDetail(lib, statusName(rc)));
    }

    /**
     * Column-major {@code C = op(A) op(B) + (accumulate ? C : 0)}, C float32 (m x n), A and B of type {@code abType}
     * ({@link #CUDA_R_32F}, {@link #CUDA_R_16F} or {@link #CUDA_R_16BF}), float32 accumulation.
     */
    public void gemm(int opA, int opB, int m, int n, int k, long a, int lda, long b, int ldb, int abType, long c, int ldc, boolean accumulate) {
        // a local, not "accumulate ? one : zero" in the call: a conditional expression as an argument of the
        // signature-polymorphic invokeExact is typed Object, and the call fails with WrongMethodTypeException
        MemorySegment beta = accumulate ? one : zero;
        try {
            int rc = (int) gemmEx.invokeExact(handle, opA, opB, m, n, k, one, MemorySegment.ofAddress(a), abType, lda,
                    MemorySegment.ofAddress(b), abType, ldb, beta, MemorySegment.ofAddress(c), CUDA_R_32F, ldc,
                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            check("cublasGemmEx(m=" + m + ", n=" + n + ", k=" + k + ")", rc);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Row-major {@code Y[n][out] = X[n][in] W[out][in]^T}: the forward matrix product of every linear layer. */
    public void matmulRowMajor(long w, int out, int in, int type, long x, int n, long y) {
        gemm(OP_T, OP_N, out, n, in, w, in, x, in, type, y, out, false);
    }

    /** Row-major {@code dX[n][in] = dY[n][out] W[out][in]}: the transposed product of the backward pass. */
    public void matmulTransposedRowMajor(long w, int out, int in, int type, long dy, int n, long dx, boolean accumulate) {
        gemm(OP_N, OP_N, in, n, out, w, in, dy, out, type, dx, in, accumulate);
    }

    /** Row-major {@code dW[out][in] += dY[n][out]^T X[n][in]}: the weight gradient (all float32). */
    public void weightGradRowMajor(long dy, long x, int n, int out, int in, long dw, boolean accumulate) {
        gemm(OP_N, OP_T, in, out, n, x, in, dy, out, CUDA_R_32F, dw, in, accumulate);
    }

    /**
     * Puts later GEMMs on {@code stream}, with {@code workspace} ({@code bytes} of device memory) as cuBLAS's scratch:
     * cuBLAS resets its workspace when the stream changes, and a GEMM being captured into a graph must not allocate.
     */
    public void setStream(MemorySegment stream, long workspace, long bytes) {
        try {
            check("cublasSetStream", (int) setStream.invokeExact(handle, stream));
            if (workspace != 0) check("cublasSetWorkspace", (int) setWorkspace.invokeExact(handle, MemorySegment.ofAddress(workspace), bytes));
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    @Override
    public void close() {
        try {
            check("cublasDestroy_v2", (int) destroy.invokeExact(handle));
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }
}
