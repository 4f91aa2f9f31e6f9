package dev.tiller.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * One CUDA GPU ready for Tiller's forward pass: the driver, the device's primary context, a cuBLAS handle, and the
 * kernels of {@code tiller_kernels.fatbin} loaded with {@code cuModuleLoadData}. Each kernel has a typed Java wrapper
 * below (pointers are device addresses as longs); all work goes on the default stream, so a later copy to the host
 * waits for it.
 *
 * <p>{@link #open()} returns the process-wide instance, or throws {@link CudaUnavailableException} with a message that
 * says what is missing (driver library, device, cuBLAS) when CUDA cannot be used.
 */
public final class CudaDevice {
    private static CudaDevice shared;
    private static final int THREADS = 256;

    private final CudaDriver driver;
    private final MemorySegment context;
    private final Cublas blas;
    private final Map<String, MemorySegment> functions = new HashMap<>();
    private final String name;
    private final int computeCapability;
    private final long totalMemory;

    private CudaDevice(CudaDriver driver, int ordinal) {
        this.driver = driver;
        int dev = driver.device(ordinal);
        this.name = driver.deviceName(dev);
        this.computeCapability = driver.attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) * 10
                + driver.attribute(CudaDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        if (computeCapability < 80) {
            throw new CudaUnavailableException("CUDA device " + name + " has compute capability " + computeCapability / 10 + "."
                    + computeCapability % 10 + "; Tiller's kernels need 8.0 or newer (Ampere). Use --device cpu");
        }
        this.totalMemory = driver.totalMemory(dev);
        this.context = driver.primaryContext(dev);
        driver.setCurrent(context);
        byte[] image = Fatbin.validated();
        MemorySegment native_ = Arena.global().allocate(image.length + 16L, 16);
        MemorySegment.copy(image, 0, native_, ValueLayout.JAVA_BYTE, 0, image.length);
        MemorySegment module;
        try {
            module = driver.loadModule(native_);
        } catch (CudaException e) {
            throw new CudaUnavailableException("the CUDA driver rejected Tiller's kernels on " + name + " (" + e.getMessage()
                    + "); the fatbin holds SASS for sm_80 / sm_90 and PTX for compute_80, rebuilt by kernels/src/main/cuda/build.sh", e);
        }
        for (String k : Fatbin.KERNELS) functions.put(k, driver.function(module, k));
        this.blas = Cublas.create();
    }

    /** The process-wide device (GPU 0, or {@code TILLER_CUDA_DEVICE}); throws {@link CudaUnavailableException}. */
    public static synchronized CudaDevice open() {
        if (shared == null) {
            CudaDriver d = CudaDriver.load();
            d.init();
            int count = d.deviceCount();
            if (count == 0) throw new CudaUnavailableException("CUDA is not available: the driver reports no GPU. Use --device cpu");
            String env = System.getenv("TILLER_CUDA_DEVICE");
            int ordinal = env == null ? 0 : Integer.parseInt(env.trim());
            if (ordinal < 0 || ordinal >= count) throw new CudaUnavailableException("TILLER_CUDA_DEVICE=" + ordinal + " but there are " + count + " GPUs");
            shared = new CudaDevice(d, ordinal);
        }
        shared.makeCurrent();
        return shared;
    }

    /** Whether a usable CUDA device is present; never throws. */
    public static boolean available() {
        try {
            open();
            return true;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** Why CUDA cannot be used here, or null when it can. */
    public static String unavailableReason() {
        try {
            open();
            return null;
        } catch (RuntimeException | LinkageError e) {
            return e.getMessage();
        }
    }

    public String describe() {
        return name + " (sm_" + computeCapability + ", " + (totalMemory >> 20) + " MiB; driver " + driver.libraryLocation() + ", cuBLAS "
                + blas.libraryLocation() + ")";
    }

    public int computeCapability() {
        return computeCapability;
    }

    public Cublas blas() {
        return blas;
    }

    public CudaDriver driver() {
        return driver;
    }

    /** Makes this device's context current on the calling thread (cheap; call before work on a new thread). */
    public void makeCurrent() {
        driver.setCurrent(context);
    }

    public void synchronize() {
        driver.synchronize();
    }

    // ------------------------------------------------------------------ graphs

    private static final long BLAS_WORKSPACE = 32L << 20;
    /** Where kernels and GEMMs go: the legacy default stream, or the capture stream while a graph is being recorded. */
    private MemorySegment stream = MemorySegment.NULL;
    private MemorySegment captureStream;
    private long blasWorkspace;

    /** A captured and instantiated sequence of launches, replayed with {@link #launch(Graph)}. */
    public record Graph(MemorySegment graph, MemorySegment exec) {}

    /**
     * Starts recording: kernel launches and GEMMs issued by this thread until {@link #endCapture()} are recorded into
     * a graph instead of running. Nothing that synchronises with the host (copies, frees) may be issued meanwhile.
     */
    public synchronized void beginCapture() {
        if (captureStream == null) {
            captureStream = driver.createStream();
            blasWorkspace = alloc(BLAS_WORKSPACE);
        }
        blas.setStream(captureStream, blasWorkspace, BLAS_WORKSPACE);
        stream = captureStream;
        driver.beginCapture(captureStream);
    }

    /** Ends the recording and instantiates the graph (the recorded work has not run yet). */
    public synchronized Graph endCapture() {
        MemorySegment graph;
        try {
            graph = driver.endCapture(captureStream);
        } finally {
            stream = MemorySegment.NULL;
            blas.setStream(MemorySegment.NULL, blasWorkspace, BLAS_WORKSPACE);
        }
        try {
            return new Graph(graph, driver.instantiate(graph));
        } catch (RuntimeException e) {
            driver.destroyGraph(graph, null);
            throw e;
        }
    }

    /** Runs a graph on the capture stream; the legacy stream's later copies wait for it. */
    public void launch(Graph g) {
        driver.launchGraph(g.exec(), captureStream);
    }

    public void destroy(Graph g) {
        driver.destroyGraph(g.graph(), g.exec());
    }

    // ------------------------------------------------------------------ memory

    /** CUDA_ERROR_OUT_OF_MEMORY. */
    public static final int OUT_OF_MEMORY = 2;

    /** Free device memory in bytes, now. */
    public long freeMemory() {
        return driver.memoryInfo()[0];
    }

    public long totalMemory() {
        return totalMemory;
    }

    public String name() {
        return name;
    }

    public long alloc(long bytes) {
        return driver.malloc(bytes);
    }

    public void free(long ptr) {
        if (ptr != 0) driver.free(ptr);
    }

    public long upload(float[] a) {
        long p = alloc((long) a.length * Float.BYTES);
        copyToDevice(p, a, 0, a.length);
        return p;
    }

    public long upload(double[] a) {
        long p = alloc((long) a.length * Double.BYTES);
        driver.copyToDevice(p, MemorySegment.ofArray(a), (long) a.length * Double.BYTES);
        return p;
    }

    public long upload(MemorySegment host) {
        long p = alloc(host.byteSize());
        driver.copyToDevice(p, host, host.byteSize());
        return p;
    }

    public void copyToDevice(long dst, float[] src, int from, int count) {
        driver.copyToDevice(dst, MemorySegment.ofArray(src).asSlice((long) from * Float.BYTES, (long) count * Float.BYTES), (long) count * Float.BYTES);
    }

    public void copyToDevice(long dst, int[] src, int from, int count) {
        driver.copyToDevice(dst, MemorySegment.ofArray(src).asSlice((long) from * Integer.BYTES, (long) count * Integer.BYTES),
                (long) count * Integer.BYTES);
    }

    public void copyToDevice(long dst, long[] src, int count) {
        driver.copyToDevice(dst, MemorySegment.ofArray(src).asSlice(0, (long) count * Long.BYTES), (long) count * Long.BYTES);
    }

    public void copyToHost(float[] dst, int from, long src, int count) {
        driver.copyToHost(MemorySegment.ofArray(dst).asSlice((long) from * Float.BYTES, (long) count * Float.BYTES), src, (long) count * Float.BYTES);
    }

    public void copyToHost(int[] dst, int from, long src, int count) {
        driver.copyToHost(MemorySegment.ofArray(dst).asSlice((long) from * Integer.BYTES, (long) count * Integer.BYTES), src,
                (long) count * Integer.BYTES);
    }

    public void copy(long dst, long src, long bytes) {
        driver.copyDeviceToDevice(dst, src, bytes);
    }

    public void zero(long dst, long floats) {
        driver.memsetD32(dst, 0, floats);
    }

    // ------------------------------------------------------------------ kernels

    private void launch(String kernel, int gx, int gy, int block, Object... args) {
        launch3(kernel, gx, gy, 1, block, args);
    }

    /** Launch arguments: one slot of 8 bytes per argument and the pointer array, reused by every launch of a thread. */
    private static final ThreadLocal<MemorySegment[]> LAUNCH_ARGS = ThreadLocal.withInitial(() -> {
        MemorySegment values = Arena.global().allocate(8L * 32, 8), pointers = Arena.global().allocate(ADDRESS.byteSize() * 32, 8);
        for (int i = 0; i < 32; i++) pointers.setAtIndex(ADDRESS, i, values.asSlice(8L * i, 8));
        return new MemorySegment[]{values, pointers};
    });

    private void launch3(String kernel, int gx, int gy, int gz, int block, Object... args) {
        launchShared(kernel, gx, gy, gz, block, 0, args);
    }

    /** A launch with {@code sharedBytes} of dynamic shared memory. */
    private void launchShared(String kernel, int gx, int gy, int gz, int block, int sharedBytes, Object... args) {
        MemorySegment fn = functions.get(kernel);
        MemorySegment[] buf = LAUNCH_ARGS.get(); // cuLaunchKernel copies the values, so the buffer is free again on return
        MemorySegment values = buf[0];
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case Long l -> values.set(ValueLayout.JAVA_LONG, 8L * i, l);
                case Integer n -> values.set(ValueLayout.JAVA_INT, 8L * i, n);
                case Float f -> values.set(ValueLayout.JAVA_FLOAT, 8L * i, f);
                case Double d -> values.set(ValueLayout.JAVA_DOUBLE, 8L * i, d);
                default -> throw new IllegalArgumentException("kernel argument " + args[i]);
            }
        }
        driver.launch(fn, kernel, gx, gy, gz, block, 1, 1, sharedBytes, stream, buf[1]);
    }

    private static int grid(long n) {
        return (int) Math.max(1, Math.min((n + THREADS - 1) / THREADS, 65535));
    }

    /** out = half or bfloat16 of in ({@code type} {@link Cublas#CUDA_R_16F} or {@link Cublas#CUDA_R_16BF}). */
    public void toHalf(long out, long in, long n, int type) {
        launch(type == Cublas.CUDA_R_16BF ? "f32_to_bf16" : "f32_to_f16", grid(n), 1, THREADS, out, in, n);
    }

    // ------------------------------------------------------------------ quantized weights and GEMV

    /** Activation rows up to which a product is a GEMV (decode), and the GEMV's launch shape (see tiller_kernels.cu). */
    public static final int GEMV_MAX_ROWS = 8, GEMV_WARPS = 4, GEMV_SMEM_FLOATS = 8192;
    /** Below this many warps in all (rows x split), a row is shared by more warps: about 16 per multiprocessor of an H200. */
    static final int GEMV_SPLIT_WARPS = 2048;

    /** Columns of x the GEMV stages in shared memory at a time (the kernel computes the same). */
    public static int gemvTile(int n, int cols) {
        return Math.min((GEMV_SMEM_FLOATS / n) & ~1023, (cols + 1023) & ~1023);
    }

    /**
     * Warps per output row (1, 2 or 4): more for matrices of few rows, so that the GPU has enough warps, as long as
     * every lane of the row's warps gets at least one 16-byte load.
     */
    public static int gemvSplit(DeviceFormat f, int rows, int cols) {
        int loads = cols / f.vec, split = 1;
        while (split < GEMV_WARPS && (long) rows * split < GEMV_SPLIT_WARPS && loads >= 2 * split * 32) split *= 2;
        return split;
    }

    /**
     * Repacks {@code nblocks} ggml Q8_0 / Q4_0 / Q5_0 / Q4_1 / Q5_1 / Q6_K blocks at {@code blocks} into quants at {@code qs} and f16 scales
     * at {@code scales} (the device layout, tiller_kernels.cu). Q4_K is held as stored, with nothing to repack.
     */
    public void repack(DeviceFormat f, long qs, long scales, long blocks, long nblocks) {
        switch (f) {
            case Q8_0 -> launch("repack_q8_0", grid(nblocks * 32), 1, THREADS, qs, scales, blocks, nblocks);
            case Q4_0 -> launch("repack_q4_0", grid(nblocks * 16), 1, THREADS, qs, scales, blocks, nblocks);
            case Q5_0 -> launch("repack_q5_0", grid(nblocks * 20), 1, THREADS, qs, scales, blocks, nblocks);
            case Q4_1 -> launch("repack_q4_1", grid(nblocks * 16), 1, THREADS, qs, scales, blocks, nblocks);
            case Q5_1 -> launch("repack_q5_1", grid(nblocks * 20), 1, THREADS, qs, scales, blocks, nblocks);
            case Q6_K -> launch("repack_q6_k", grid(nblocks * 208), 1, THREADS, qs, scales, blocks, nblocks);
            default -> throw new IllegalArgumentException("repack: " + f + " is not a quantized device format");
        }
    }

    /** out = f16 of the first {@code n} weights (whole blocks) of a quantized matrix in its device form. */
    public void dequantToHalf(DeviceFormat f, long out, long qs, long scales, long n) {
        if (!f.quantized() || n % f.blockWeights() != 0) throw new IllegalArgumentException("dequantToHalf: " + f + ", " + n + " weights");
        launch("dequant_" + f.name().toLowerCase(java.util.Locale.ROOT) + "_f16", grid(n), 1, THREADS, out, qs, scales, n);
    }

    /**
     * {@code y[n][rows] = x[n][cols] W[rows][cols]^T} with float32 x and y, W read in its device format {@code f}
     * ({@code scales} 0 for F16 / BF16): the decode product. Throws IllegalArgumentException, naming the format, for a
     * format or shape the kernels do not read (see {@link DeviceFormat#gemvReads}) or more than {@link #GEMV_MAX_ROWS}
     * rows.
     */
    public void gemv(DeviceFormat f, long y, long w, long scales, long x, int rows, int cols, int n) {
        if (!f.gemvReads(cols)) {
            throw new IllegalArgumentException("no GEMV kernel reads " + f + " weights with rows of " + cols + " columns"
                    + (f.gemvKernel == null ? "" : " (needs a multiple of " + f.vec + ")"));
        }
        if (n < 1 || n > GEMV_MAX_ROWS) throw new IllegalArgumentException("GEMV of " + n + " rows; it takes 1.." + GEMV_MAX_ROWS);
        if (f.hasScales() && scales == 0) throw new IllegalArgumentException("GEMV of " + f + " weights without their scales");
        int split = gemvSplit(f, rows, cols), perBlock = GEMV_WARPS / split;
        launchShared(f.gemvKernel, (rows + perBlock - 1) / perBlock, 1, 1, GEMV_WARPS * 32, n * gemvTile(n, cols) * Float.BYTES,
                y, w, scales, x, rows, cols, n, split);
    }

    /** out[t] = row tokens[t] of a quantized table in its device form, dequantized to float32. */
    public void embedQuantized(long out, DeviceFormat f, long qs, long scales, long tokens, int rows, int dim) {
        if (!f.quantized()) throw new IllegalArgumentException("embedQuantized: " + f);
        launch("embed_gather_q", rows, 1, THREADS, out, qs, scales, f.embedCode(), tokens, dim);
    }

    /** out[t] = table[tokens[t]]; {@code dtype} of the table: 0 f32, 1 f16, 2 bf16. */
    public void embed(long out, long table, int dtype, long tokens, int rows, int dim) {
        launch("embed_gather", rows, 1, THREADS, out, table, dtype, tokens, dim);
    }

    /** y += x */
    public void add(long y, long x, long n) {
        launch("add_inplace", grid(n), 1, THREADS, y, x, n);
    }

    /** y[r] += scale * v for each of {@code rows} rows: biases and steering vectors. */
    public void addRowVector(long y, long v, float scale, int rows, int width) {
        launch("add_row_vector", grid((long) rows * width), 1, THREADS, y, v, scale, rows, width);
    }

    /** y[r] += scales[r] * vecs[r] for each row whose device vector pointer vecs[r] is not 0 (per-request steering). */
    public void addRowTable(long y, long vecs, long scales, int rows, int width) {
        launch("add_row_table", grid((long) rows * width), 1, THREADS, y, vecs, scales, rows, width);
    }

    public void siluMul(long gate, long up, long n) {
        launch("silu_mul", grid(n), 1, THREADS, gate, up, n);
    }

    /** gate = gelu_tanh(gate) * up (GeGLU), gelu_tanh(g) = 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715 g^3))). */
    public void geluMul(long gate, long up, long n) {
        launch("gelu_mul", grid(n), 1, THREADS, gate, up, n);
    }

    /** y *= a over n floats (gemma's embeddings times sqrt(dim)). */
    public void scale(long y, float a, long n) {
        launch("scale_inplace", grid(n), 1, THREADS, y, a, n);
    }

    /** y = cap * tanh(y / cap) over n floats (gemma2's logit soft-capping); {@code cap} must be positive. */
    public void softcap(long y, float cap, long n) {
        launch("softcap_inplace", grid(n), 1, THREADS, y, cap, n);
    }

    /** Backward of {@link #softcap}: dy *= 1 - (y / cap)^2, where y is the capped output. */
    public void softcapBackward(long dy, long y, float cap, long n) {
        launch("softcap_backward", grid(n), 1, THREADS, dy, y, cap, n);
    }

    /** Threads per block of {@code argmax_rows}: a 151,936-float row is about 150 loads per thread. */
    private static final int ARGMAX_THREADS = 1024;

    /**
     * {@code out[r]} = the index of the largest of {@code logits[r][0 .. cols)} for {@code rows} rows, with the host
     * {@code Sampler.argmax}'s ties (lowest index) and NaNs (never chosen; a NaN at index 0 gives 0). Greedy decode
     * copies these ids to the host instead of the rows.
     */
    public void argmaxRows(long out, long logits, int rows, int cols) {
        launch("argmax_rows", rows, 1, ARGMAX_THREADS, out, logits, cols);
    }

    /**
     * out[r] = the Gumbel-max draw from softmax(logits[r] * invTemp[r]) keyed by keys[r] where invTemp[r] &gt; 0, else the
     * argmax of the row (see {@code pick_rows}); invTemp device floats, keys device u64, one per row.
     */
    public void pickRows(long out, long logits, long invTemp, long keys, int rows, int cols) {
        if (rows < 1) return;
        launch("pick_rows", rows, 1, ARGMAX_THREADS, out, logits, cols, invTemp, keys);
    }

    public void gatherRows(long dst, long src, long index, int rows, int width) {
        launch("gather_rows", rows, 1, THREADS, dst, src, index, width);
    }

    /** The element type a fused kernel stores for the next GEMM: 0 float32, 1 float16, 2 bfloat16. */
    public static int storeType(int cublasType) {
        return cublasType == Cublas.CUDA_R_32F ? 0 : cublasType == Cublas.CUDA_R_16BF ? 2 : 1;
    }

    /** x += branch (skipped when branch is 0), then out = rmsnorm(x) * w stored as {@code storeType} (see {@link #storeType}). */
    public void addRmsnorm(long x, long branch, long out, long w, int rows, int width, float eps, int storeType) {
        addRmsnorm(x, branch, 0, 0f, 0, 0, out, w, rows, width, eps, storeType);
    }

    /**
     * {@link #addRmsnorm(long, long, long, long, int, int, float, int) addRmsnorm} with the steering adds of the point
     * between the residual add and the norm: x += branch, then x += steerScale * steer (0: none; the same vector for
     * every row, as {@link #addRowVector}), then x[r] += rowScales[r] * rowVecs[r] (0: none; a device table of one
     * vector pointer per row, 0 for a row without one, as {@code add_row_table}), rounded as those kernels round.
     */
    public void addRmsnorm(long x, long branch, long steer, float steerScale, long rowVecs, long rowScales, long out, long w, int rows, int width,
                           float eps, int storeType) {
        launch("add_rmsnorm", rows, 1, THREADS, x, branch, out, w, width, eps, storeType, steer, steerScale, rowVecs, rowScales);
    }

    /**
     * From the fused q|k|v product ({@code stride} floats per row): biases (0 = none), RoPE on q and k, q to
     * {@code qOut}, k and v into each row's layer cache at its position.
     */
    public void qkvRopeStore(long qkv, int stride, long qOut, long bq, long bk, long bv, long positions, long freqs, long baseK, long baseV,
                             int rows, int heads, int kvHeads, int headDim, int rotDims, boolean neox) {
        launch("qkv_rope_store", rows, 1, 128, qkv, stride, qOut, bq, bk, bv, positions, freqs, baseK, baseV, heads, kvHeads, headDim, rotDims,
                neox ? 1 : 0);
    }

    /** out = silu(gate) * up from rows of the fused gate|up product (2*ffn floats each), stored as {@code storeType}. */
    public void siluMulStore(long out, long gateUp, int ffn, long n, int storeType) {
        launch("silu_mul_store", grid(n), 1, THREADS, out, gateUp, ffn, n, storeType);
    }

    /** out = gelu_tanh(gate) * up from rows of the fused gate|up product (2*ffn floats each), stored as {@code storeType}. */
    public void geluMulStore(long out, long gateUp, int ffn, long n, int storeType) {
        launch("gelu_mul_store", grid(n), 1, THREADS, out, gateUp, ffn, n, storeType);
    }

    /** RMSNorm of {@code rows} rows of {@code width} (out may alias x). */
    public void rmsnorm(long out, long x, long w, int rows, int width, float eps) {
        launch("rmsnorm", rows, 1, THREADS, out, x, w, width, eps);
    }

    /**
     * Backward of RMSNorm for {@code rows} rows of {@code width}: ADDS the gradient of x into {@code dx} (which holds,
     * typically, the residual branch's gradient already; zero it first for the gradient alone), and adds the gradient
     * of w into {@code dw} when dw != 0.
     */
    public void rmsnormBackward(long dx, long dw, long dy, long x, long w, int rows, int width, float eps) {
        launch("rmsnorm_backward", rows, 1, THREADS, dx, dw, dy, x, w, width, eps);
    }

    public void siluMulBackward(long dgate, long dup, long dout, long gate, long up, long n) {
        launch("silu_mul_backward", grid(n), 1, THREADS, dgate, dup, dout, gate, up, n);
    }

    /** Backward of gate' = gelu_tanh(gate) * up: dgate = dout * up * gelu'(gate), dup = dout * gelu(gate). */
    public void geluMulBackward(long dgate, long dup, long dout, long gate, long up, long n) {
        launch("gelu_mul_backward", grid(n), 1, THREADS, dgate, dup, dout, gate, up, n);
    }

    /** RoPE on {@code rows} rows of {@code heads} heads; {@code freqs} device doubles, rotDims/2 of them. */
    public void rope(long x, long positions, long freqs, int rows, int heads, int headDim, int rotDims, boolean neox) {
        launch("rope", rows, 1, 128, x, positions, freqs, heads, headDim, rotDims, neox ? 1 : 0);
    }

    /** Writes each row's key and value at its position in its sequence's layer cache (bases: device u64 arrays). */
    public void kvStore(long baseK, long baseV, long positions, long k, long v, int rows, int kvDim) {
        launch("kv_store", rows, 1, 128, baseK, baseV, positions, k, v, kvDim);
    }

    /** Causal GQA attention of each row over positions 0..positions[row] of its sequence's cache (no cap, no window). */
    public void attention(long out, long q, long baseK, long baseV, long positions, int rows, int heads, int kvHeads, int headDim, float scale) {
        attention(out, q, baseK, baseV, positions, rows, heads, kvHeads, headDim, scale, 0f, 0);
    }

    /**
     * Causal GQA attention of each row over positions first..positions[row] of its sequence's cache, first =
     * max(0, positions[row] - window + 1) when {@code window} &gt; 0 (a sliding window), else 0; with {@code cap}
     * &gt; 0 each score s = scale q.k is soft-capped to cap * tanh(s / cap) before the softmax (gemma2).
     */
    public void attention(long out, long q, long baseK, long baseV, long positions, int rows, int heads, int kvHeads, int headDim, float scale,
                          float cap, int window) {
        if (headDim > 256) throw new IllegalArgumentException("CUDA attention supports head_dim <= 256, got " + headDim);
        launch("attention", heads, rows, 128, out, q, baseK, baseV, positions, heads, kvHeads, headDim, scale, cap, window);
    }

    /** Query rows per block of {@link #attentionTiled} (ATT_TILE_ROWS in tiller_kernels.cu). */
    public static final int ATTENTION_TILE_ROWS = 16;

    /**
     * The same attention as {@link #attention(long, long, long, long, long, int, int, int, int, float, float, int)}, by
     * the tiled kernel for prefill: a block per head and {@value #ATTENTION_TILE_ROWS} consecutive rows loads each key
     * and value tile into shared memory once for all its rows, instead of once per row. Precondition: every row belongs
     * to ONE sequence, i.e. the {@code rows} entries of {@code baseK} (and of {@code baseV}) are all the same pointer;
     * the kernel reads only the first row's pointers of each block. Positions may be in any order.
     */
    public void attentionTiled(long out, long q, long baseK, long baseV, long positions, int rows, int heads, int kvHeads, int headDim,
                               float scale, float cap, int window) {
        if (headDim > 256) throw new IllegalArgumentException("CUDA attention supports head_dim <= 256, got " + headDim);
        int tiles = (rows + ATTENTION_TILE_ROWS - 1) / ATTENTION_TILE_ROWS;
        if (rows < 1 || tiles > 65535) throw new IllegalArgumentException("attentionTiled of " + rows + " rows");
        launch("attention_tiled", heads, tiles, 128, out, q, baseK, baseV, positions, heads, kvHeads, headDim, scale, cap, window, rows);
    }

    /**
     * The same attention, with each row's context cut into {@code splits} chunks of {@code chunk} positions that run as
     * separate blocks (flash-decoding), then merged: for decode, where rows x heads blocks alone would leave most of
     * the GPU idle. {@code partial} holds rows*heads*splits*headDim floats, {@code ml} rows*heads*splits*2.
     */
    public void attentionSplit(long out, long partial, long ml, long q, long baseK, long baseV, long positions, int rows, int heads,
                               int kvHeads, int headDim, float scale, int chunk, int splits) {
        attentionSplit(out, partial, ml, q, baseK, baseV, positions, rows, heads, kvHeads, headDim, scale, chunk, splits, 0f, 0);
    }

    /** Split attention with a soft cap and a sliding window, as {@link #attention(long, long, long, long, long, int, int, int, int, float, float, int)}. */
    public void attentionSplit(long out, long partial, long ml, long q, long baseK, long baseV, long positions, int rows, int heads,
                               int kvHeads, int headDim, float scale, int chunk, int splits, float cap, int window) {
        if (headDim > 256) throw new IllegalArgumentException("CUDA attention supports head_dim <= 256, got " + headDim);
        launch3("attention_partial", heads, rows, splits, 128, partial, ml, q, baseK, baseV, positions, heads, kvHeads, headDim, scale, chunk,
                cap, window);
        launch("attention_merge", heads, rows, 64, out, partial, ml, heads, headDim, splits);
    }

    // ------------------------------------------------------------------ training: backward through activations

    /**
     * Backward of causal grouped-query attention over packed sequences (no KV cache): ADDS into {@code dq}
     * ([rows][heads*headDim]), {@code dk} and {@code dv} ([rows][kvHeads*headDim]) the gradients of
     * {@code out_t = sum_j softmax_j(scale q_t.k_j) v_j} given {@code dOut}. Row t is at position {@code positions[t]}
     * of the sequence whose first row is {@code seqStart[t]} (both device int arrays of {@code rows}) and attends to
     * its rows 0..positions[t] through kv head h / (heads/kvHeads). {@code scratch} is device memory of at least
     * rows*heads*2*stride floats, {@code stride} at least the largest position + 1 (the kernel keeps each row and
     * head's probabilities and dp/ds there).
     */
    public void attentionBackward(long dq, long dk, long dv, long dOut, long q, long k, long v, long seqStart, long positions, int rows, int heads,
                                  int kvHeads, int headDim, float scale, long scratch, int stride) {
        attentionBackward(dq, dk, dv, dOut, q, k, v, seqStart, positions, rows, heads, kvHeads, headDim, scale, scratch, stride, 0f, 0);
    }

    /**
     * The same backward for attention with a soft cap and a sliding window (see
     * {@link #attention(long, long, long, long, long, int, int, int, int, float, float, int)}): row t attends to its
     * sequence's rows first..positions[t] and with {@code cap} &gt; 0 the score's gradient is multiplied by
     * 1 - (c / cap)^2, c the capped score.
     */
    public void attentionBackward(long dq, long dk, long dv, long dOut, long q, long k, long v, long seqStart, long positions, int rows, int heads,
                                  int kvHeads, int headDim, float scale, long scratch, int stride, float cap, int window) {
        if (headDim > 256) throw new IllegalArgumentException("CUDA attention supports head_dim <= 256, got " + headDim);
        if (kvHeads < 1 || heads % kvHeads != 0) throw new IllegalArgumentException("attention: " + heads + " heads over " + kvHeads + " kv heads");
        if (rows > 65535) throw new IllegalArgumentException("attentionBackward of " + rows + " rows; a launch takes at most 65535");
        if (rows < 1) return;
        launch("attention_backward", heads, rows, 128, dq, dk, dv, dOut, q, k, v, seqStart, positions, heads, kvHeads, headDim, scale, scratch, stride, cap,
                window);
    }

    /**
     * out = float32 of the first {@code n} elements of a matrix (or a view of its rows) held in device format {@code f}
     * at {@code w} ({@code scales}: the f16 scales of the formats that have them, {@link DeviceFormat#hasScales}):
     * exactly the stored values, quantized ones as the f16 scale times the quant in float (no f16 rounding).
     */
    public void widenToFloat(DeviceFormat f, long out, long w, long scales, long n) {
        if (f.hasScales() && scales == 0) throw new IllegalArgumentException("widenToFloat of " + f + " weights without their scales");
        if (n < 1) return;
        launch("widen_f32", grid(n), 1, THREADS, out, w, scales, f.ordinal(), n);
    }

    /**
     * For b &lt; count and i &lt; width: {@code dst[dstOffsets[b] + i] = (accumulate ? dst[dstOffsets[b] + i] : 0) +
     * src[srcOffsets[b] + i]}, offsets device int64 arrays of {@code count}, in floats (one block per slice).
     */
    public void slices(long dst, long dstOffsets, long src, long srcOffsets, int count, int width, boolean accumulate) {
        if (count < 1 || width < 1) return;
        launch("slices", count, 1, THREADS, dst, dstOffsets, src, srcOffsets, width, accumulate ? 1 : 0);
    }

    /** Warps of a {@code column_sums} block, and the rows a block sums at most (fewer when the chunks would pass 65535). */
    private static final int COLSUM_WARPS = 8, COLSUM_ROWS = 512;

    /** {@code out[c] += sum_{r < rows} y[r*width + c]} for c &lt; width (float32): the gradient of a vector added to every row. */
    public void addColumnSums(long out, long y, int rows, int width) {
        if (rows < 1 || width < 1) return;
        int chunks = (int) Math.min(65535, (rows + COLSUM_ROWS - 1) / COLSUM_ROWS);
        launch("column_sums", (width + 31) / 32, chunks, COLSUM_WARPS * 32, out, y, rows, width);
    }

    // ------------------------------------------------------------------ training: softmax losses over the vocabulary

    /** Threads of a block of the softmax loss kernels (one block per row): about 300 elements a thread of a 152,000-float row. */
    private static final int LOSS_THREADS = 512;

    private static void checkVocab(String what, int vocab) {
        if (vocab < 1) throw new IllegalArgumentException(what + " over a vocabulary of " + vocab);
    }

    /**
     * {@code out[r] = log softmax(logits[r])[targets[r]]} for r &lt; rows: the log-probability of each row's target
     * token, {@code logits[r][t] - max_r - log sum_i exp(logits[r][i] - max_r)}. {@code logits} float32
     * [rows][vocab] row-major, {@code targets} a device int array of rows, {@code out} device float32 [rows]. A
     * target outside [0, vocab) gives NaN. Launches nothing when rows &lt; 1.
     */
    public void logProbs(long out, long logits, long targets, int rows, int vocab) {
        if (rows < 1) return;
        checkVocab("logProbs", vocab);
        launch("log_probs", rows, 1, LOSS_THREADS, out, logits, targets, vocab);
    }

    /**
     * ADDS the gradient of {@code sum_r coef[r] * logProbs[r]} into {@code dLogits} (float32 [rows][vocab]):
     * {@code dLogits[r][i] += coef[r] * (delta(i == targets[r]) - p_r[i])}, p_r = softmax(logits[r]); {@code coef} a
     * device float32 array of rows. A row whose coef is 0 is skipped entirely (its dLogits row is left untouched);
     * a target outside [0, vocab) adds NaN to its row. Launches nothing when rows &lt; 1.
     */
    public void addLogProbGradient(long dLogits, long logits, long targets, long coef, int rows, int vocab) {
        if (rows < 1) return;
        checkVocab("addLogProbGradient", vocab);
        launch("logprob_grad", rows, 1, LOSS_THREADS, dLogits, logits, targets, coef, vocab);
    }

    /**
     * {@code out[r] = H_r = -sum_i p_i log p_i} of each row's softmax (float32 [rows], computed stably from the
     * max-subtracted logits); and when {@code dLogits != 0}, ADDS {@code coef[r] * dH_r/dlogits[r][i] = coef[r] *
     * (-p_i (log p_i + H_r))} into it ({@code coef} a device float32 array of rows; a row whose coef is 0 is left
     * untouched). When dLogits is 0 only {@code out} is written and {@code coef} is not read (it may be 0).
     * Launches nothing when rows &lt; 1.
     */
    public void entropies(long out, long dLogits, long logits, long coef, int rows, int vocab) {
        if (rows < 1) return;
        checkVocab("entropies", vocab);
        if (dLogits != 0 && coef == 0) throw new IllegalArgumentException("entropies: a gradient into dLogits needs coef");
        launch("entropy_rows", rows, 1, LOSS_THREADS, out, dLogits, logits, coef, vocab);
    }
}
