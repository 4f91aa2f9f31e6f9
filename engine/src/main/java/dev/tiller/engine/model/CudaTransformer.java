package dev.tiller.engine.model;

import dev.tiller.engine.hooks.ForwardHook;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.hooks.PerSequenceAdds;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.cuda.Cublas;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.kernels.cuda.CudaDevice.Graph;
import dev.tiller.kernels.cuda.DeviceFormat;
import dev.tiller.kernels.cuda.DeviceMatrix;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.arch.Activation;
import dev.tiller.models.arch.RopeFrequencies;

import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The forward pass on a CUDA GPU: {@link TransformerForward}, the forward every backend runs, over this model's device
 * buffers and kernels ({@code DevicePass}). Weights are uploaded once and stay on the
 * device (F32, F16 and BF16 as stored; quantized formats kept quantized; any other
 * format dequantized on the host and converted to F16: {@link DeviceFormat}); each sequence's KV cache lives on the device next
 * to its host {@link KVCache}, which only keeps the length. Products of at most {@link CudaDevice#GEMV_MAX_ROWS} rows
 * (decode) are GEMV kernels that read the weights as stored; larger ones (prefill) are cuBLAS GEMMs with float32
 * accumulation (activations converted to the weight's 16-bit type first; quantized weights dequantized to F16 a tile of
 * rows at a time into one scratch buffer). RMSNorm, RoPE, attention, SwiGLU and the residual adds are the kernels of
 * {@code tiller_kernels.cu}.
 *
 * <p>Hooks: a point with no hook costs nothing; a point whose hooks are all {@link RowVectorAdd} (steering) is
 * handled on the device; any other hook gets the activations copied to the host, runs there, and its changes are
 * copied back. The forward pass is serialised (one at a time per model).
 *
 * <p>Greedy steps ({@link #forward(Batch, Hooks, float[], int, boolean[], int[])}) end with {@code argmax_rows} on the
 * device and copy back only the chosen ids, not the logits rows.
 */
public final class CudaTransformer implements ForwardPass, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * One block's weights on the device. {@code wqkv} holds wq, wk and wv as one matrix (rows stacked) and
     * {@code wGateUp} wGate and wUp, when each group shares a type: one GEMM instead of three or two; wq, wk, wv, wGate
     * and wUp are then views into them (null when the types differ).
     */
    private record DeviceLayer(long attnNorm, DeviceMatrix wq, DeviceMatrix wk, DeviceMatrix wv, DeviceMatrix wo, long bq, long bk, long bv,
                               long qNorm, long kNorm, long ffnNorm, DeviceMatrix wGate, DeviceMatrix wUp, DeviceMatrix wDown,
                               DeviceMatrix wqkv, DeviceMatrix wGateUp, long postAttnNorm, long postFfwNorm) {}

    /** One sequence's device KV cache: layer-major [layers][maxPos][kvDim] floats, keys and values. */
    private static final class DeviceKV implements Runnable {
        final CudaDevice dev;
        final long keys, values;
        final int maxPos;

        DeviceKV(CudaDevice dev, long keys, long values, int maxPos) {
            this.dev = dev;
            this.keys = keys;
            this.values = values;
            this.maxPos = maxPos;
        }

        @Override
        public void run() { // the Cleaner's action when the host KVCache is unreachable
            dev.makeCurrent();
            dev.free(keys);
            dev.free(values);
        }
    }

    private final ModelConfig c;
    private final CudaDevice dev;
    private final Cublas blas;
    private final List<Long> allocations = new ArrayList<>();
    private final DeviceMatrix embedding, output;
    private final DeviceLayer[] layers;
    private final long outputNorm, ropeFreqs;
    private final Map<KVCache, DeviceKV> caches = new WeakHashMap<>();
    private final Map<float[], Long> steeringVectors = new IdentityHashMap<>();
    /** Every host weight's device copy, by identity (views of stacked matrices included), for {@link #deviceMatrix}. */
    private final Map<WeightMatrix, DeviceMatrix> byHost = new IdentityHashMap<>();
    private final Map<float[], Long> vectors = new IdentityHashMap<>();
    /** Each block's device weights by its host wq and by its host wGate (the first matrix of its shared-input products). */
    private final Map<WeightMatrix, DeviceLayer> layerOf = new IdentityHashMap<>();
    /** The forward of every backend, and this model's device side of it. */
    private final TransformerForward<Buf> forward;
    private final DevicePass pass = new DevicePass();
    private final long weightBytes;
    /** F16 scratch for prefill products of quantized weights (0 when the model has none), and its size in elements. */
    private long dequantScratch;
    private long dequantScratchElems;
    /** Decode products by the GEMV kernels (else cuBLAS for every product): {@code TILLER_CUDA_GEMV=0} turns them off. */
    private final boolean gemvEnabled = gemvSelected();

    // workspace, grown to the largest batch seen
    private int capacity;
    private long x, xn, q, k, v, qkv, attn, branch, gate, up, half, tokens, positions, index, baseK, baseV, logitsBuf;
    private long logitsCapacity;
    /** The device argmax of each logit row (greedy steps), and its size in rows. */
    private long idsBuf;
    private int idsCapacity;
    /** Sampled steps: each logit row's 1 / temperature (0: argmax) and Gumbel key, in fixed buffers of idsCapacity rows. */
    private long pickTemps, pickKeys;
    private float[] pendingTemps;
    private long[] pendingKeys;
    private float[] hostScratch = new float[0];

    /** Uploads the weights; throws {@link dev.tiller.kernels.cuda.CudaUnavailableException} when there is no GPU. */
    public CudaTransformer(ModelConfig config, ModelWeights w) {
        this.c = config;
        this.dev = CudaDevice.open();
        this.blas = dev.blas();
        if (c.headDim() > 256) throw new IllegalArgumentException("--device cuda supports head_dim <= 256, this model has " + c.headDim());
        checkWeightsFit(w);
        long[] bytes = {0};
        Map<WeightMatrix, DeviceMatrix> uploaded = new IdentityHashMap<>();
        try {
            embedding = matrix(w.tokenEmbedding(), uploaded, bytes);
            layers = new DeviceLayer[c.layers()];
            for (int l = 0; l < c.layers(); l++) {
                LayerWeights lw = w.layers()[l];
                DeviceMatrix[] qkv = stacked(bytes, lw.wq(), lw.wk(), lw.wv());
                DeviceMatrix[] gateUp = stacked(bytes, lw.wGate(), lw.wUp());
                layers[l] = new DeviceLayer(vector(lw.attnNorm()), qkv[0], qkv[1], qkv[2], matrix(lw.wo(), uploaded, bytes), vector(lw.bq()),
                        vector(lw.bk()), vector(lw.bv()), vector(lw.qNorm()), vector(lw.kNorm()), vector(lw.ffnNorm()), gateUp[0], gateUp[1],
                        matrix(lw.wDown(), uploaded, bytes), qkv[3], gateUp[2], vector(lw.postAttnNorm()), vector(lw.postFfwNorm()));
                layerOf.put(lw.wq(), layers[l]);
                layerOf.put(lw.wGate(), layers[l]);
            }
            outputNorm = vector(w.outputNorm());
            output = matrix(w.output(), uploaded, bytes);
            ropeFreqs = track(dev.upload(ropeFrequencies(c)));
            dequantScratchElems = dequantScratchElements(w);
            if (dequantScratchElems > 0) dequantScratch = track(dev.alloc(2 * dequantScratchElems));
            dev.synchronize();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        weightBytes = bytes[0];
        forward = new TransformerForward<>(config, w, pass);
    }

    /** Memory kept free beyond the weights: workspace, cuBLAS, graphs, a first KV cache. */
    private static final long HEADROOM = 256L << 20;

    /**
     * Prefill dequantizes quantized weights into F16 tiles of at most this many elements: 32 MiB, or
     * {@code -Dtiller.cuda.dequantTile=N} (tests make it small to run several tiles per product).
     */
    static long dequantTile() {
        return Long.getLong("tiller.cuda.dequantTile", 1L << 24);
    }

    /** Every weight matrix once (tied embeddings are one). */
    private static List<WeightMatrix> allMatrices(ModelWeights w) {
        java.util.Set<WeightMatrix> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        List<WeightMatrix> all = new ArrayList<>(List.of(w.tokenEmbedding(), w.output()));
        for (LayerWeights lw : w.layers()) all.addAll(List.of(lw.wq(), lw.wk(), lw.wv(), lw.wo(), lw.wGate(), lw.wUp(), lw.wDown()));
        all.removeIf(m -> !seen.add(m));
        return all;
    }

    /**
     * Elements of the F16 scratch that prefill dequantizes quantized weights into: the largest quantized matrix (a
     * stacked q|k|v or gate|up counts as one), at most {@link #dequantTile}; 0 when no matrix is quantized.
     */
    private static long dequantScratchElements(ModelWeights w) {
        long most = 0, widest = 0; // the scratch holds at least one row
        for (WeightMatrix m : allMatrices(w)) {
            if (!DeviceFormat.of(m.tensor()).quantized()) continue;
            most = Math.max(most, (long) m.rows() * m.cols());
            widest = Math.max(widest, m.cols());
        }
        for (LayerWeights lw : w.layers()) {
            for (WeightMatrix[] group : new WeightMatrix[][]{{lw.wq(), lw.wk(), lw.wv()}, {lw.wGate(), lw.wUp()}}) {
                long sum = 0;
                for (WeightMatrix m : group) if (DeviceFormat.of(m.tensor()).quantized()) sum += (long) m.rows() * m.cols();
                most = Math.max(most, sum);
            }
        }
        return Math.min(most, Math.max(widest, dequantTile()));
    }

    /** Refuses, before any upload, a model whose device weights cannot fit the GPU's free memory, naming both sizes. */
    private void checkWeightsFit(ModelWeights w) {
        long need = 2 * dequantScratchElements(w);
        for (WeightMatrix m : allMatrices(w)) need += DeviceFormat.of(m.tensor()).bytes(m.rows(), m.cols());
        long free = dev.freeMemory();
        if (need + HEADROOM > free) {
            throw new IllegalStateException(String.format(java.util.Locale.ROOT,
                    "the model's weights need %d MiB on the GPU (quantized formats stay quantized there) "
                            + "plus %d MiB of working memory, "
                            + "but %s has %d MiB free of %d MiB; use a smaller model, or --device cpu", need >> 20, HEADROOM >> 20, dev.name(),
                    free >> 20, dev.totalMemory() >> 20));
        }
    }

    /** The same frequencies as {@link RopeTable}'s, from the one formula, in double. */
    static double[] ropeFrequencies(ModelConfig c) {
        return RopeFrequencies.inverse(c.ropeDims(), c.ropeTheta(), c.ropeFreqScale(), c.ropeFreqFactors());
    }

    public String describe() {
        java.util.EnumSet<DeviceFormat> formats = java.util.EnumSet.noneOf(DeviceFormat.class);
        formats.add(embedding.format());
        formats.add(output.format());
        for (DeviceLayer l : layers) for (DeviceMatrix m : new DeviceMatrix[]{l.wq(), l.wk(), l.wv(), l.wo(), l.wGate(), l.wUp(), l.wDown()}) formats.add(m.format());
        String products = gemvEnabled ? "products of <= " + CudaDevice.GEMV_MAX_ROWS + " rows by GEMV kernels, larger by cuBLAS" : "every product by cuBLAS (TILLER_CUDA_GEMV=0)";
        String quant = dequantScratch == 0 ? "" : "; quantized weights kept quantized, cuBLAS products dequantize them to F16 tiles in a "
                + (2 * dequantScratchElems >> 20) + " MiB scratch";
        return dev.describe() + ", weights " + (weightBytes >> 20) + " MiB on the device " + formats + "; " + products + quant;
    }

    // ---- the device weights, for other code that computes with them on the device (training's float32 ops) ----

    public CudaDevice device() {
        return dev;
    }

    /**
     * The device copy of one of this model's weight matrices (a view into a stacked q|k|v or gate|up where it is one),
     * found by identity; IllegalArgumentException for a matrix that is not this model's.
     */
    public DeviceMatrix deviceMatrix(WeightMatrix m) {
        DeviceMatrix d = byHost.get(m);
        if (d == null) throw new IllegalArgumentException("weight matrix " + m.tensor().name() + " is not one of this model's device weights");
        return d;
    }

    /** The device copy (float32) of one of this model's norm weights or biases, found by identity. */
    public long weightVector(float[] v) {
        Long p = vectors.get(v);
        if (p == null) throw new IllegalArgumentException("vector of " + v.length + " numbers is not one of this model's device weights");
        return p;
    }

    /** out[i] = the token embedding of tokens[i] for {@code rows} rows (tokens: a device int array), float32. */
    public void embed(long out, long tokens, int rows) {
        int dim = c.dim();
        if (embedding.format().quantized()) dev.embedQuantized(out, embedding.format(), embedding.ptr(), embedding.scales(), tokens, rows, dim);
        else dev.embed(out, embedding.ptr(), CudaDevice.storeType(embedding.format().cublasType), tokens, rows, dim);
    }

    /** Whether decode products use the GEMV kernels: on unless {@code TILLER_CUDA_GEMV=0} / {@code -Dtiller.cuda.gemv=false}. */
    static boolean gemvSelected() {
        String v = System.getProperty("tiller.cuda.gemv");
        if (v == null) v = System.getenv("TILLER_CUDA_GEMV");
        return v == null || !(v.equals("0") || v.equalsIgnoreCase("false"));
    }

    private long track(long ptr) {
        allocations.add(ptr);
        return ptr;
    }

    private long vector(float[] v) {
        if (v == null) return 0;
        Long done = vectors.get(v);
        if (done != null) return done;
        long p = track(dev.upload(v));
        vectors.put(v, p);
        return p;
    }

    /** Allocates a {@code rows} x {@code cols} matrix in {@code format}: quants (or elements) first, then the scales. */
    private DeviceMatrix allocate(String name, int rows, int cols, DeviceFormat format, long[] bytes) {
        long size = format.bytes(rows, cols);
        long base = track(dev.alloc(size));
        bytes[0] += size;
        return new DeviceMatrix(name, base, format.hasScales() ? base + rows * format.rowBytes(cols) : 0, rows, cols, format);
    }

    private DeviceMatrix matrix(WeightMatrix m, Map<WeightMatrix, DeviceMatrix> uploaded, long[] bytes) {
        DeviceMatrix done = uploaded.get(m);
        if (done != null) return done; // tied embeddings: one copy
        DeviceMatrix d = allocate(m.tensor().name(), m.rows(), m.cols(), DeviceFormat.of(m.tensor()), bytes);
        uploadInto(m, d);
        uploaded.put(m, d);
        byHost.put(m, d);
        return d;
    }

    /**
     * Matrices of one input stacked by rows into one device matrix (returned last), each also as a view (returned
     * first, in order); when their device formats differ, each on its own and the stacked one null. Quantized ones
     * stack their quants and their scales alike, so a view is a pair of offsets.
     */
    private DeviceMatrix[] stacked(long[] bytes, WeightMatrix... ms) {
        DeviceMatrix[] out = new DeviceMatrix[ms.length + 1];
        DeviceFormat format = DeviceFormat.of(ms[0].tensor());
        int rows = 0;
        boolean same = true;
        for (WeightMatrix m : ms) {
            same &= DeviceFormat.of(m.tensor()) == format && m.cols() == ms[0].cols();
            rows += m.rows();
        }
        if (!same) {
            Map<WeightMatrix, DeviceMatrix> none = new IdentityHashMap<>();
            for (int i = 0; i < ms.length; i++) out[i] = matrix(ms[i], none, bytes);
            return out;
        }
        StringBuilder name = new StringBuilder();
        for (WeightMatrix m : ms) name.append(name.isEmpty() ? "" : "|").append(m.tensor().name());
        DeviceMatrix all = allocate(name.toString(), rows, ms[0].cols(), format, bytes);
        int r0 = 0;
        for (int i = 0; i < ms.length; i++) {
            out[i] = all.view(ms[i].tensor().name(), r0, ms[i].rows());
            uploadInto(ms[i], out[i]);
            byHost.put(ms[i], out[i]);
            r0 += ms[i].rows();
        }
        out[ms.length] = all;
        return out;
    }

    /** Raw quantized bytes uploaded at a time for repacking (bounds the load's extra device memory). */
    private static final long REPACK_CHUNK = 16L << 20;

    /** Writes a weight's device form (see {@link DeviceFormat}) into {@code dst}. */
    private void uploadInto(WeightMatrix m, DeviceMatrix dst) {
        GGMLType t = m.tensor().type();
        MemorySegment data = m.tensor().data().asSlice(0, m.rowBytes() * m.rows());
        switch (t) {
            case F32, F16, BF16, Q4_K, Q5_K -> dev.driver().copyToDevice(dst.ptr(), data, data.byteSize()); // K-quant blocks as stored
            case Q8_0, Q4_0, Q5_0, Q4_1, Q5_1, Q6_K -> { // raw ggml blocks a chunk of rows at a time, repacked on the device into quants and scales
                int chunkRows = (int) Math.max(1, Math.min(m.rows(), REPACK_CHUNK / m.rowBytes()));
                long tmp = dev.alloc(chunkRows * m.rowBytes());
                try {
                    for (int r0 = 0; r0 < m.rows(); r0 += chunkRows) {
                        int rows = Math.min(chunkRows, m.rows() - r0);
                        dev.driver().copyToDevice(tmp, data.asSlice(r0 * m.rowBytes(), rows * m.rowBytes()), rows * m.rowBytes());
                        DeviceMatrix part = dst.view(dst.name(), r0, rows);
                        dev.repack(dst.format(), part.ptr(), part.scales(), tmp, (long) rows * m.cols() / dst.format().blockWeights());
                    }
                    dev.synchronize();
                } finally {
                    dev.free(tmp);
                }
            }
            default -> { // any other ggml format: dequantize on the host in chunks of rows, convert to F16 on the device
                int chunkRows = Math.max(1, Math.min(m.rows(), (1 << 22) / m.cols()));
                float[] buf = new float[chunkRows * m.cols()];
                long tmp = dev.alloc((long) buf.length * Float.BYTES);
                try {
                    for (int r0 = 0; r0 < m.rows(); r0 += chunkRows) {
                        int rows = Math.min(chunkRows, m.rows() - r0);
                        for (int r = 0; r < rows; r++) m.dequantizeRow(r0 + r, buf, r * m.cols());
                        dev.copyToDevice(tmp, buf, 0, rows * m.cols());
                        dev.toHalf(dst.ptr() + (long) r0 * m.cols() * 2, tmp, (long) rows * m.cols(), Cublas.CUDA_R_16F);
                    }
                    dev.synchronize();
                } finally {
                    dev.free(tmp);
                }
            }
        }
    }

    private void ensureWorkspace(int n) {
        if (n <= capacity) return;
        dropGraphs(); // they hold the old buffers' addresses
        freeWorkspace();
        int cap = Math.max(n, Math.min(2 * capacity, 4096));
        int dim = c.dim(), qDim = c.qDim(), kvDim = c.kvDim(), ffn = c.ffnDim();
        x = dev.alloc(4L * cap * dim);
        xn = dev.alloc(4L * cap * dim);
        q = dev.alloc(4L * cap * qDim);
        k = dev.alloc(4L * cap * kvDim);
        v = dev.alloc(4L * cap * kvDim);
        attn = dev.alloc(4L * cap * qDim);
        branch = dev.alloc(4L * cap * Math.max(dim, qDim));
        gate = dev.alloc(8L * cap * ffn); // gate|up rows of the fused product
        qkv = dev.alloc(4L * cap * (qDim + 2 * kvDim));
        up = dev.alloc(4L * cap * ffn);
        half = dev.alloc(2L * cap * Math.max(Math.max(dim, qDim), ffn));
        tokens = dev.alloc(4L * cap);
        positions = dev.alloc(4L * cap);
        index = dev.alloc(4L * cap);
        baseK = dev.alloc(8L * cap * c.layers());
        baseV = dev.alloc(8L * cap * c.layers());
        capacity = cap;
    }

    /** Split-K attention: at most this many rows (decode steps), chunks of at least this many positions, at most this many. */
    static final int SPLIT_MAX_ROWS = 16, SPLIT_CHUNK = 64, SPLIT_MAX = 128;
    /** Tiled attention (when switched on) for steps of at least this many rows of one sequence: prefill, not decode. */
    static final int TILED_MIN_ROWS = 32;
    /** Steps of at most this many rows (decode steps of up to this many sequences) are captured as graphs. */
    static final int GRAPH_MAX_ROWS = 64;

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
    private long splitPartial, splitMl;

    private void ensureSplitWorkspace() {
        if (splitPartial != 0) return;
        long slots = (long) SPLIT_MAX_ROWS * c.heads() * SPLIT_MAX;
        splitPartial = dev.alloc(4L * slots * c.headDim());
        splitMl = dev.alloc(8L * slots);
    }

    private void freeWorkspace() {
        for (long p : new long[]{x, xn, q, k, v, qkv, attn, branch, gate, up, half, tokens, positions, index, baseK, baseV}) dev.free(p);
        capacity = 0;
        dev.free(splitPartial);
        dev.free(splitMl);
        splitPartial = splitMl = 0;
    }

    private DeviceKV deviceCache(KVCache cache) {
        DeviceKV kv = caches.get(cache);
        if (kv == null) {
            long floats = (long) c.layers() * cache.maxPositions() * c.kvDim();
            long keys = 0, values;
            try {
                keys = dev.alloc(floats * 4);
                values = dev.alloc(floats * 4);
            } catch (dev.tiller.kernels.cuda.CudaException e) {
                dev.free(keys);
                if (e.code() != CudaDevice.OUT_OF_MEMORY) throw e;
                throw new IllegalStateException(String.format(java.util.Locale.ROOT,
                        "the KV cache of a %d-position context needs %d MiB on the GPU (%d layers x %d positions x %d keys and values, float32), "
                                + "but %s has %d MiB free; lower --ctx-size (-c) or run fewer sequences at once", cache.maxPositions(),
                        (2 * floats * 4) >> 20, c.layers(), cache.maxPositions(), c.kvDim(), dev.name(), dev.freeMemory() >> 20), e);
            }
            kv = new DeviceKV(dev, keys, values, cache.maxPositions());
            caches.put(cache, kv);
            CLEANER.register(cache, kv);
        }
        return kv;
    }

    /** Y[n][rows] = X[n][cols] W^T, X float32 on the device (converted to the weight's 16-bit type when needed). */
    private void matmul(DeviceMatrix w, long in, int n, long out) {
        matmulConverted(w, toWeightType(w, in, n), n, out);
    }

    /**
     * x += pending (skipped when 0), then RMSNorm of x with weight {@code normW}, stored as the input of the GEMM with
     * {@code consumer} (16-bit into {@code half}, float32 into {@code xn}; a null consumer means float32 into xn).
     * Returns where it went.
     */
    private long normInput(long normW, long pending, DeviceMatrix consumer, int n) {
        if (!fused) {
            if (pending != 0) dev.add(x, pending, (long) n * c.dim());
            dev.rmsnorm(xn, x, normW, n, c.dim(), c.rmsEps());
            return xn;
        }
        int type = consumer == null ? 0 : CudaDevice.storeType(inputType(consumer, n));
        long out = type == 0 ? xn : half;
        dev.addRmsnorm(x, pending, out, normW, n, c.dim(), c.rmsEps(), type);
        return out;
    }

    /** Whether the product of {@code n} rows with {@code w} is a GEMV kernel (decode) rather than a cuBLAS GEMM. */
    private boolean gemv(DeviceMatrix w, int n) {
        return gemvEnabled && n <= CudaDevice.GEMV_MAX_ROWS && w.format().gemvReads(w.cols());
    }

    /**
     * The type the product reads its input in: float32 for a GEMV and for float32 weights, else the GEMM's 16-bit type
     * (F16 for quantized weights, which cuBLAS reads dequantized to F16).
     */
    private int inputType(DeviceMatrix w, int n) {
        return gemv(w, n) ? Cublas.CUDA_R_32F : w.format().cublasType;
    }

    /** The input as the product reads it: float32 as is, else converted into the {@code half} workspace. */
    private long toWeightType(DeviceMatrix w, long in, int n) {
        int type = inputType(w, n);
        if (type == Cublas.CUDA_R_32F) return in;
        dev.toHalf(half, in, (long) n * w.cols(), type);
        return half;
    }

    private boolean sameInput(DeviceMatrix a, DeviceMatrix b, int n) {
        return inputType(a, n) == inputType(b, n);
    }

    /**
     * {@code out[n][rows] = xin[n][cols] W^T} with xin already in {@link #inputType}: a GEMV kernel for few rows; else a
     * cuBLAS GEMM, for quantized weights one per tile of rows dequantized into the F16 scratch (C's leading dimension
     * stays the full row count, so each tile writes its own columns of out).
     */
    private void matmulConverted(DeviceMatrix w, long xin, int n, long out) {
        if (gemv(w, n)) {
            dev.gemv(w.format(), out, w.ptr(), w.scales(), xin, w.rows(), w.cols(), n);
        } else if (w.format().quantized()) {
            int tileRows = (int) Math.max(1, Math.min(w.rows(), dequantScratchElems / w.cols()));
            for (int r0 = 0; r0 < w.rows(); r0 += tileRows) {
                int rows = Math.min(tileRows, w.rows() - r0);
                DeviceMatrix tile = w.view(w.name(), r0, rows);
                dev.dequantToHalf(w.format(), dequantScratch, tile.ptr(), tile.scales(), (long) rows * w.cols());
                blas.gemm(Cublas.OP_T, Cublas.OP_N, rows, n, w.cols(), dequantScratch, w.cols(), xin, w.cols(), Cublas.CUDA_R_16F, out + 4L * r0,
                        w.rows(), false);
            }
        } else {
            blas.matmulRowMajor(w.ptr(), w.rows(), w.cols(), w.format().cublasType, xin, n, out);
        }
    }

    @Override
    public synchronized void forward(Batch b, Hooks hooks, float[] logits) {
        Step s = run(b, hooks, false, false);
        if (s.rows() == 0) {
            dev.synchronize();
            return;
        }
        copyLogitRows(logits, 0, s.rows());
        hooks.run(HookSite.LOGITS, -1, logits, s.rows(), c.vocabSize(), s.outPos(), s.outSeq());
    }

    /**
     * Greedy rows take their argmax on the device ({@code argmax_rows}, part of the step and so of its graph) and only
     * the ids are copied back; the other rows are copied in full. Decided per step: a {@code logits} hook reads (and
     * may change) every row before the choice, so with one, or with the device argmax switched off, the whole rows come
     * back and the host picks, exactly as on the CPU.
     */
    @Override
    public synchronized void forward(Batch b, Hooks hooks, float[] logits, int vocab, boolean[] argmaxOnly, int[] ids) {
        pick(b, hooks, logits, vocab, argmaxOnly, null, null, ids);
    }

    /**
     * Sampled rows draw on the device as well: a row with {@code invTemperature[r] > 0} (and not argmaxOnly) gets the
     * {@code pick_rows} Gumbel-max draw with {@code keys[r]}, which is {@link dev.tiller.engine.sampling.GumbelMax#pick}
     * to the bit, so only its id comes back. Falls back to the host picks where the rows must come back anyway (a
     * logits hook) or when {@code TILLER_CUDA_DEVICE_SAMPLING=0}.
     */
    @Override
    public synchronized void forward(Batch b, Hooks hooks, float[] logits, int vocab, boolean[] argmaxOnly, float[] invTemperature, long[] keys,
                                     int[] ids) {
        pick(b, hooks, logits, vocab, argmaxOnly, invTemperature, keys, ids);
    }

    /**
     * Both forwards above: argmax rows and (with {@code invTemperature} not null) drawn rows are picked on the device,
     * argmax_rows for a step of argmax rows only, pick_rows when a row draws, and only their ids come back; every other
     * row comes back whole. The host picks from whole rows instead when nothing is picked, when a logits hook must see
     * the rows first, or when the device argmax (or, for draws, device sampling) is switched off.
     */
    private void pick(Batch b, Hooks hooks, float[] logits, int vocab, boolean[] argmaxOnly, float[] invTemperature, long[] keys, int[] ids) {
        if (vocab != c.vocabSize()) throw new IllegalArgumentException("vocab " + vocab + ", the model has " + c.vocabSize());
        int rows = b.logitRows();
        boolean anyArgmax = false, anyDraw = false;
        float[] temps = new float[rows];   // 0: the row is argmax or whole
        long[] k = new long[rows];
        for (int r = 0; r < rows; r++) {
            if (argmaxOnly[r]) {
                anyArgmax = true;
            } else if (invTemperature != null && invTemperature[r] > 0) {
                anyDraw = true;
                temps[r] = invTemperature[r];
                k[r] = keys[r];
            }
        }
        boolean onDevice = deviceArgmax && (anyArgmax || anyDraw) && (!anyDraw || deviceSampling) && !hooks.has(HookSite.LOGITS, -1);
        if (!onDevice) {
            forward(b, hooks, logits);
            if (anyDraw) ForwardPass.hostPicks(rows, logits, vocab, argmaxOnly, invTemperature, keys, ids);
            else ForwardPass.hostArgmax(rows, logits, vocab, argmaxOnly, ids);
            return;
        }
        pendingTemps = temps;
        pendingKeys = k;
        run(b, hooks, true, anyDraw);
        dev.copyToHost(ids, 0, idsBuf, rows); // waits for the step (the legacy stream's copy follows its work)
        deviceToHostBytes += 4L * rows;
        for (int r = 0; r < rows; r++) {
            if (!argmaxOnly[r] && temps[r] == 0) copyLogitRows(logits, r, 1);
        }
    }

    /** Whether sampled rows are drawn on the device: with the device argmax, unless {@code TILLER_CUDA_DEVICE_SAMPLING=0}. */
    @Override
    public boolean picksOnDevice() {
        return deviceArgmax && deviceSampling;
    }

    private final boolean deviceSampling = deviceSamplingSelected();

    static boolean deviceSamplingSelected() {
        String v = System.getProperty("tiller.cuda.deviceSampling");
        if (v == null) v = System.getenv("TILLER_CUDA_DEVICE_SAMPLING");
        return v == null || !(v.equals("0") || v.equalsIgnoreCase("false"));
    }

    private void copyLogitRows(float[] logits, int row, int count) {
        long at = (long) row * c.vocabSize(), n = (long) count * c.vocabSize();
        dev.copyToHost(logits, Math.toIntExact(at), logitsBuf + 4 * at, Math.toIntExact(n));
        deviceToHostBytes += 4 * n;
    }

    /** Runs the batch through the model on the device; its logit rows (and with {@code argmax} their ids) stay there. */
    /** With {@code draw}, the rows' picks are {@code pick_rows} with {@link #pendingTemps} and {@link #pendingKeys}. */
    private Step run(Batch b, Hooks hooks, boolean argmax, boolean draw) {
        final int dim = c.dim(), kvDim = c.kvDim(), L = c.layers();
        final int n = b.size;
        b.validate(c.vocabSize()); // the same checks, and errors, as the CPU pass
        dev.makeCurrent();
        ensureWorkspace(n);
        final int[] pos = b.positions, seq = b.sequenceIds;

        // everything the device reads that changes from step to step goes into fixed buffers first, so that one
        // captured graph serves every decode step: tokens, positions, each row's layer cache bases, logit rows
        dev.copyToDevice(tokens, b.tokens, 0, n);
        dev.copyToDevice(positions, pos, 0, n);
        long[] bk = new long[L * n], bv = new long[L * n];
        for (int t = 0; t < n; t++) {
            DeviceKV kv = deviceCache(b.caches[t]);
            for (int l = 0; l < L; l++) {
                long layerOffset = 4L * l * kv.maxPos * kvDim;
                bk[l * n + t] = kv.keys + layerOffset;
                bv[l * n + t] = kv.values + layerOffset;
            }
        }
        dev.copyToDevice(baseK, bk, L * n);
        dev.copyToDevice(baseV, bv, L * n);
        int rows = 0;
        int[] idx = new int[n], outPos = new int[n], outSeq = new int[n];
        for (int t = 0; t < n; t++) {
            if (!b.logitsWanted[t]) continue;
            idx[rows] = t;
            outPos[rows] = pos[t];
            outSeq[rows] = seq[t];
            rows++;
        }
        if (rows > 0) {
            dev.copyToDevice(index, idx, 0, rows);
            long need = (long) rows * c.vocabSize();
            if (need > logitsCapacity) {
                dev.free(logitsBuf);
                logitsBuf = dev.alloc(4 * need);
                logitsCapacity = need;
                dropGraphs();
            }
            if (argmax && rows > idsCapacity) {
                dev.free(idsBuf);
                dev.free(pickTemps);
                dev.free(pickKeys);
                idsCapacity = Math.max(rows, GRAPH_MAX_ROWS);
                idsBuf = dev.alloc(4L * idsCapacity);
                pickTemps = dev.alloc(4L * idsCapacity);
                pickKeys = dev.alloc(8L * idsCapacity);
                dropGraphs();
            }
            if (draw) { // before the step (or its graph) runs: the graph reads these fixed buffers
                dev.copyToDevice(pickTemps, pendingTemps, 0, rows);
                dev.copyToDevice(pickKeys, pendingKeys, rows);
            }
        }
        // decode (few rows): each row's context is cut into chunks of SPLIT_CHUNK positions (more when that would make
        // over SPLIT_MAX chunks) that run as separate blocks; the cut changes every SPLIT_CHUNK positions, and with it
        // the captured graph
        int maxPos = 0;
        for (int t = 0; t < n; t++) maxPos = Math.max(maxPos, pos[t]);
        int chunk = SPLIT_CHUNK * Math.max(1, ceilDiv(ceilDiv(maxPos + 1, SPLIT_MAX), SPLIT_CHUNK));
        int splits = n <= SPLIT_MAX_ROWS && maxPos + 1 > SPLIT_CHUNK ? ceilDiv(maxPos + 1, chunk) : 1;
        if (splits > 1) ensureSplitWorkspace();
        // prefill of one sequence (every row's cache the same, so the same layer bases): the tiled kernel reads each
        // key once per 16 rows instead of once per row
        boolean oneSequence = true;
        for (int t = 1; t < n && oneSequence; t++) oneSequence = b.caches[t] == b.caches[0];
        boolean tiled = tiledAttention && splits <= 1 && n >= TILED_MIN_ROWS && oneSequence;

        rowTables = prepareRowTables(hooks, seq, n);
        Step step = new Step(n, rows, splits, chunk, tiled, hooks, pos, seq, outPos, outSeq, argmax, draw);
        List<Object> key = n <= GRAPH_MAX_ROWS && graphsEnabled ? graphKey(step) : null;
        Graph g = key == null ? null : graphs.get(key);
        if (g != null) {
            dev.launch(g);
            graphReplays++;
        } else if (key != null && seenKeys.contains(key)) {
            g = capture(step);
            if (g != null) {
                if (graphs.size() >= 16) dropGraphs();
                graphs.put(key, g);
                dev.launch(g);
            } else {
                body(step);
            }
        } else {
            if (key != null) seenKeys.add(key);
            body(step);
        }
        for (int t = 0; t < n; t++) b.caches[t].setLength(Math.max(b.caches[t].length(), pos[t] + 1));
        return step;
    }

    // ------------------------------------------------------------------ per-request steering tables

    /** Per (point, hook index) of this step: {adds per row K, offset of its K x rows entries in the tables}. */
    private Map<Long, int[]> rowTables = Map.of();
    private long tablePtrs, tableScales;
    private int tableCapacity;

    /** One hook's identity within a step: its point and its place in the point's list. */
    private static long tableKey(HookSite site, int layer, int hookIndex) {
        return (site.ordinal() * 100000L + layer + 1) * 64 + hookIndex;
    }

    private long deviceVector(float[] v) {
        Long p = steeringVectors.get(v);
        if (p == null) {
            p = track(dev.upload(v));
            steeringVectors.put(v, p);
        }
        return p;
    }

    /**
     * For each {@link PerSequenceAdds} hook at a point whose rows are the batch's (not ln_final), the device pointer
     * and scale of every row's k-th add, uploaded into two tables before the pass (so that a captured graph reads this
     * step's assignment). With the fused kernels only (the table kernel awaits its first GPU run, as they do);
     * otherwise such hooks run on the host.
     */
    private Map<Long, int[]> prepareRowTables(Hooks hooks, int[] seq, int n) {
        if (!fused || hooks.isEmpty()) return Map.of();
        Map<Long, int[]> tables = new HashMap<>();
        List<Long> ptrs = new ArrayList<>();
        List<Float> scales = new ArrayList<>();
        for (HookSite site : HookSite.values()) {
            if (site == HookSite.LN_FINAL || site == HookSite.LOGITS) continue;
            for (int l = 0; l < (site.perLayer ? c.layers() : 1); l++) {
                int layer = site.perLayer ? l : -1;
                if (!hooks.has(site, layer)) continue;
                List<ForwardHook> list = hooks.at(site, layer);
                for (int hi = 0; hi < list.size(); hi++) {
                    if (!(list.get(hi) instanceof PerSequenceAdds psa)) continue;
                    List<List<RowVectorAdd>> perRow = new ArrayList<>(n);
                    int k = 0;
                    for (int t = 0; t < n && perRow != null; t++) {
                        List<RowVectorAdd> adds = psa.addsFor(seq[t]);
                        if (adds == null || adds.stream().anyMatch(a -> a.vector().length != c.dim())) perRow = null;
                        else {
                            perRow.add(adds);
                            k = Math.max(k, adds.size());
                        }
                    }
                    if (perRow == null) continue; // something only the host can do: the host path for this point
                    tables.put(tableKey(site, layer, hi), new int[]{k, ptrs.size()});
                    for (int j = 0; j < k; j++) {
                        for (List<RowVectorAdd> adds : perRow) {
                            ptrs.add(j < adds.size() ? deviceVector(adds.get(j).vector()) : 0L);
                            scales.add(j < adds.size() ? adds.get(j).scale() : 0f);
                        }
                    }
                }
            }
        }
        if (ptrs.isEmpty()) return tables;
        if (ptrs.size() > tableCapacity) {
            dropGraphs(); // they hold the old tables' addresses
            dev.free(tablePtrs);
            dev.free(tableScales);
            tableCapacity = Math.max(ptrs.size(), 2 * tableCapacity);
            tablePtrs = dev.alloc(8L * tableCapacity);
            tableScales = dev.alloc(4L * tableCapacity);
        }
        long[] p = new long[ptrs.size()];
        float[] f = new float[scales.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = ptrs.get(i);
            f[i] = scales.get(i);
        }
        dev.copyToDevice(tablePtrs, p, p.length);
        dev.copyToDevice(tableScales, f, 0, f.length);
        return tables;
    }

    /** One forward step's shape and hooks: what {@link #body} issues, and what a captured graph is keyed on. */
    private record Step(int n, int rows, int splits, int chunk, boolean tiled, Hooks hooks, int[] pos, int[] seq, int[] outPos, int[] outSeq,
                        boolean argmax, boolean draw) {}

    private final Map<List<Object>, Graph> graphs = new HashMap<>();
    private final java.util.Set<List<Object>> seenKeys = new java.util.HashSet<>();
    private boolean graphsEnabled = graphsSelected();

    /** Graphs are on unless {@code TILLER_CUDA_GRAPHS=0} / {@code -Dtiller.cuda.graphs=false} (tests run both ways). */
    static boolean graphsSelected() {
        String v = System.getProperty("tiller.cuda.graphs");
        if (v == null) v = System.getenv("TILLER_CUDA_GRAPHS");
        return v == null || !(v.equals("0") || v.equalsIgnoreCase("false"));
    }

    /**
     * Greedy steps take the argmax on the device and copy back only the ids ({@code argmax_rows}); off with
     * {@code TILLER_CUDA_DEVICE_ARGMAX=0} / {@code -Dtiller.cuda.deviceArgmax=false}, which copies every row and picks on
     * the host, to measure the difference on a GPU.
     */
    private final boolean deviceArgmax = deviceArgmaxSelected();

    static boolean deviceArgmaxSelected() {
        String v = System.getProperty("tiller.cuda.deviceArgmax");
        if (v == null) v = System.getenv("TILLER_CUDA_DEVICE_ARGMAX");
        return v == null || !(v.equals("0") || v.equalsIgnoreCase("false"));
    }

    private long deviceToHostBytes;

    /**
     * Bytes copied from the device to the host by forward passes: logits rows, argmax ids, activations for host hooks
     * (for tests and diagnostics: a greedy decode step copies 4 bytes, not the row).
     */
    public synchronized long deviceToHostBytes() {
        return deviceToHostBytes;
    }
    /**
     * The fused decode kernels (add_rmsnorm, qkv_rope_store, silu_mul_store) with the stacked q|k|v and gate|up GEMMs.
     * Off unless {@code -Dtiller.cuda.fused=true} / {@code TILLER_CUDA_FUSED=1}: they pass every test under the emulator
     * but have not yet run on a GPU, which stays the judge of the CUDA C (docs/gpu.md).
     */
    private final boolean fused = fusedSelected();

    static boolean fusedSelected() {
        String v = System.getProperty("tiller.cuda.fused");
        if (v == null) v = System.getenv("TILLER_CUDA_FUSED");
        return v != null && (v.equals("1") || v.equalsIgnoreCase("true"));
    }

    /**
     * Prefill of one sequence by the tiled attention kernel ({@code attention_tiled}). Off unless
     * {@code TILLER_CUDA_TILED_ATTENTION=1} / {@code -Dtiller.cuda.tiledAttention=true}: it passes every test under the
     * emulator, but no GPU has run it yet, and a wrong kernel must not reach users before one has (docs/gpu.md).
     */
    private final boolean tiledAttention = tiledAttentionSelected();

    static boolean tiledAttentionSelected() {
        String v = System.getProperty("tiller.cuda.tiledAttention");
        if (v == null) v = System.getenv("TILLER_CUDA_TILED_ATTENTION");
        return v != null && (v.equals("1") || v.equalsIgnoreCase("true"));
    }
    private long graphReplays;

    private long hostHookRuns;

    /** How many times hooks ran on a host copy of activations (each a round trip; for tests and diagnostics). */
    public synchronized long hostHookRuns() {
        return hostHookRuns;
    }

    /** How many forward steps ran as a replayed graph (for tests and diagnostics). */
    public synchronized long graphReplays() {
        return graphReplays;
    }

    /**
     * The identity of a step's work as a graph: sizes, workspace, and every hook by its uploaded vector and scale.
     * Null when the step cannot be captured: a hook that must run on the host, or a steering vector not yet on the
     * device (uploading is a copy, which a capture must not contain; the uncaptured step uploads it).
     */
    private List<Object> graphKey(Step s) {
        List<Object> key = new ArrayList<>(List.of(s.n(), s.rows(), s.splits(), s.chunk(), s.tiled(), capacity, logitsBuf, s.argmax(), s.draw(),
                idsBuf));
        if (s.hooks().isEmpty()) return key;
        for (HookSite site : HookSite.values()) {
            if (site == HookSite.LOGITS) continue; // runs on the host copy of the logits, after the graph
            int layers = site.perLayer ? c.layers() : 1;
            for (int l = 0; l < layers; l++) {
                int layer = site.perLayer ? l : -1;
                if (!s.hooks().has(site, layer)) continue;
                int width = c.dim(); // every hook point of this pass is a [rows][dim] activation
                List<ForwardHook> list = s.hooks().at(site, layer);
                for (int hi = 0; hi < list.size(); hi++) {
                    ForwardHook h = list.get(hi);
                    if (h instanceof PerSequenceAdds) {
                        int[] table = rowTables.get(tableKey(site, layer, hi));
                        if (table == null) return null;
                        key.add(tableKey(site, layer, hi));
                        key.add(table[0]);
                        key.add(table[1]);
                        continue;
                    }
                    if (!(h instanceof RowVectorAdd r) || r.vector().length != width) return null;
                    Long vec = steeringVectors.get(r.vector());
                    if (vec == null) return null;
                    key.add(tableKey(site, layer, hi));
                    key.add(vec);
                    key.add(r.scale());
                }
            }
        }
        return key;
    }

    /** Records the step into a graph; on any failure, turns graphs off for this model and returns null. */
    private Graph capture(Step s) {
        try {
            dev.beginCapture();
        } catch (RuntimeException e) {
            disableGraphs(e);
            return null;
        }
        try {
            body(s);
        } catch (RuntimeException e) {
            try {
                dev.destroy(dev.endCapture());
            } catch (RuntimeException ignored) {
                // the capture is already broken; the graph (if any) is discarded
            }
            disableGraphs(e);
            return null;
        }
        try {
            return dev.endCapture();
        } catch (RuntimeException e) {
            disableGraphs(e);
            return null;
        }
    }

    private void disableGraphs(RuntimeException why) {
        graphsEnabled = false;
        dropGraphs();
        System.err.println("tiller: CUDA graphs are off for this model (" + why.getMessage() + "); decoding launch by launch");
    }

    private void dropGraphs() {
        for (Graph g : graphs.values()) dev.destroy(g);
        graphs.clear();
        seenKeys.clear();
    }

    /**
     * The forward pass proper, from the token ids in {@code tokens} to the logits in {@code logitsBuf}: the one
     * {@link TransformerForward} every backend runs, over this model's {@link DevicePass}, then the step's pick.
     */
    private void body(Step s) {
        pass.start(s);
        try {
            forward.forward(pass);
        } finally {
            pass.end();
        }
        if (s.rows() == 0) return;
        if (s.draw()) dev.pickRows(idsBuf, logitsBuf, pickTemps, pickKeys, s.rows(), c.vocabSize()); // inside the graph: no host sync
        else if (s.argmax()) dev.argmaxRows(idsBuf, logitsBuf, s.rows(), c.vocabSize());
    }

    // ------------------------------------------------------------------ the device side of TransformerForward

    /**
     * An activation of the step on the device: where its rows are and how many floats they hold. With the fused
     * kernels a buffer can be <em>owed</em>: the op that writes it waits until the product that reads it is known,
     * and then writes it straight in the type that product reads (the block norm as {@code add_rmsnorm} into the
     * 16-bit GEMM input, the SwiGLU as {@code silu_mul_store}).
     */
    private static final class Buf {
        long ptr;
        long elems;
        /** The held-back writer: writes the value as the input of a product with this matrix (null: float32 here); returns where. */
        java.util.function.ToLongFunction<DeviceMatrix> owed;

        Buf at(long ptr, long elems) {
            this.ptr = ptr;
            this.elems = elems;
            this.owed = null;
            return this;
        }
    }

    /**
     * {@link BlockOps} and {@link PassOps} of one step on the device, one object because the fused kernels cross the
     * line between them ({@code qkv_rope_store} is the q/k/v product's bias, RoPE and the cache store). Without the
     * fused kernels every op is its own launch, in {@link TransformerForward}'s order. With them (decisions made where
     * the old hand-written pass made them):
     * <ul>
     *   <li>a branch added to the residual x waits ({@link #pendingBranch}) and is added by the next norm of x
     *       ({@code add_rmsnorm}), or by whatever reads x first (a hook, the logit rows); the steering adds of the
     *       hook point right after it wait with it ({@link #heldSteering}), so a steered block costs no launch;</li>
     *   <li>that norm waits for its product and writes its output in the product's input type;</li>
     *   <li>q, k and v from the stacked product stay raw in {@code qkv}; their biases and RoPE are taken by
     *       {@code qkv_rope_store}, which attention runs before it attends;</li>
     *   <li>gate|up from the stacked product stay in {@code gate}; the activation waits for the down product and is
     *       stored in its input type.</li>
     * </ul>
     * Weights arrive as the host's {@link WeightMatrix} and {@code float[]} and are found on the device by identity.
     */
    private final class DevicePass implements BlockOps<Buf>, PassOps<Buf> {
        private final Buf bx = new Buf(), bxn = new Buf(), bq = new Buf(), bk = new Buf(), bv = new Buf(), battn = new Buf(), bbranch = new Buf(),
                bgate = new Buf(), bup = new Buf(), bh = new Buf(), blogits = new Buf();
        private Step s;
        /** Fused: a branch output not yet added to x (0: none). */
        private long pendingBranch;
        /**
         * Fused: the steering adds of the point after that residual add, not yet made: one vector for every row
         * ({@link #steerVector}, 0: none) and one per row from the step's tables ({@link #rowVectors}, 0: none).
         */
        private long steerVector, rowVectors, rowScales;
        private float steerScale;
        /** Fused: q, k and v are raw in qkv, with these biases (0: none) still to add. */
        private boolean rawQkv;
        private long rawBq, rawBk, rawBv;
        /** Fused: gate|up rows of the stacked product are in gate. */
        private boolean rawGateUp;

        void start(Step step) {
            s = step;
            pendingBranch = steerVector = rowVectors = 0;
            rawQkv = rawGateUp = false;
        }

        void end() {
            s = null;
        }

        // ---- PassOps: the step's rows, caches and hooks

        @Override
        public int rows() {
            return s.n();
        }

        @Override
        public Buf buffer(Buffer which, int layer) {
            long n = s.n(), dim = c.dim(), ffn = c.ffnDim();
            return switch (which) {
                case X -> bx.at(x, n * dim);
                case XN -> bxn.at(xn, n * dim);
                case Q -> bq.at(q, n * c.qDim());
                case K -> bk.at(k, n * c.kvDim());
                case V -> bv.at(v, n * c.kvDim());
                case ATTN -> battn.at(attn, n * c.qDim());
                case BRANCH -> bbranch.at(branch, n * dim);
                case GATE -> bgate.at(gate, n * ffn);
                case UP -> bup.at(up, n * ffn);
                case H -> bh.at(gate, n * ffn);     // the activation overwrites gate
                case XN_FINAL -> bxn.at(xn, (long) s.rows() * dim);
                case LOGITS -> blogits.at(logitsBuf, (long) s.rows() * c.vocabSize());
            };
        }

        @Override
        public void embed(Buf out) {
            CudaTransformer.this.embed(out.ptr, tokens, s.n());
        }

        @Override
        public void site(HookSite site, int layer, Buf y) {
            if (site == HookSite.LOGITS || !s.hooks().has(site, layer)) return;   // logits hooks run on the host copy, after the step
            if (y == bx && pendingBranch != 0 && heldSteering(site, layer)) return;   // the next add_rmsnorm adds them
            long at = read(y);
            if (site == HookSite.LN_FINAL) hook(s.hooks(), site, layer, at, s.rows(), c.dim(), s.outPos(), s.outSeq());
            else hook(s.hooks(), site, layer, at, s.n(), c.dim(), s.pos(), s.seq());
        }

        @Override
        public void rope(Buf y, int heads) {
            if (rawQkv) return;   // qkv_rope_store's
            dev.rope(y.ptr, positions, ropeFreqs, s.n(), heads, c.headDim(), c.ropeDims(), c.ropeNeox());
        }

        @Override
        public void attention(int layer, Buf q, Buf k, Buf v, Buf out) {
            final int n = s.n(), qDim = c.qDim(), kvDim = c.kvDim();
            long lk = baseK + 8L * layer * n, lv = baseV + 8L * layer * n;
            if (rawQkv) {   // bias, RoPE, q out and k, v into the cache, in one launch
                dev.qkvRopeStore(qkv, qDim + 2 * kvDim, q.ptr, rawBq, rawBk, rawBv, positions, ropeFreqs, lk, lv, n, c.heads(), c.kvHeads(),
                        c.headDim(), c.ropeDims(), c.ropeNeox());
                rawQkv = false;
            } else {
                dev.kvStore(lk, lv, positions, k.ptr, v.ptr, n, kvDim);
            }
            final float scale = c.queryScale(), cap = c.attnSoftcap();   // gemma2: query_pre_attn_scalar, score soft-cap
            int window = c.windowOf(layer);   // gemma2's even layers, mistral's every layer: the last `window` positions
            if (s.splits() > 1) {
                dev.attentionSplit(out.ptr, splitPartial, splitMl, q.ptr, lk, lv, positions, n, c.heads(), c.kvHeads(), c.headDim(), scale,
                        s.chunk(), s.splits(), cap, window);
            } else if (s.tiled()) {
                dev.attentionTiled(out.ptr, q.ptr, lk, lv, positions, n, c.heads(), c.kvHeads(), c.headDim(), scale, cap, window);
            } else {
                dev.attention(out.ptr, q.ptr, lk, lv, positions, n, c.heads(), c.kvHeads(), c.headDim(), scale, cap, window);
            }
        }

        /** x is whole when the blocks end (what the old pass did; nothing waits past the blocks). */
        @Override
        public void blocksDone() {
            read(bx);
        }

        @Override
        public int logitRows() {
            return s.rows();
        }

        /** The logit rows gathered into the branch buffer (by the fixed index buffer, so that graphs replay it). */
        @Override
        public Buf gatherLogitRows(Buf xs) {
            dev.gatherRows(branch, read(xs), index, s.rows(), c.dim());
            return bbranch.at(branch, (long) s.rows() * c.dim());
        }

        // ---- BlockOps: the math

        /**
         * Whether the hooks at this point, on x with a branch waiting, are steering adds that the next
         * {@code add_rmsnorm} can make (then they are held, and it will): at most one vector for every row
         * ({@link RowVectorAdd}), then at most one per-row table of one add per row ({@link PerSequenceAdds}), and no
         * steering already held. Anything else runs as {@link #hook} runs it.
         */
        private boolean heldSteering(HookSite site, int layer) {
            if (steerVector != 0 || rowVectors != 0) return false;
            List<ForwardHook> list = s.hooks().at(site, layer);
            long vec = 0, rows = 0, scales = 0;
            float scale = 0;
            for (int hi = 0; hi < list.size(); hi++) {
                ForwardHook h = list.get(hi);
                int[] table = h instanceof PerSequenceAdds ? rowTables.get(tableKey(site, layer, hi)) : null;
                if (h instanceof RowVectorAdd r && r.vector().length == c.dim() && vec == 0 && rows == 0) {
                    vec = deviceVector(r.vector());
                    scale = r.scale();
                } else if (table != null && table[0] == 1 && rows == 0) {
                    rows = tablePtrs + 8L * table[1];
                    scales = tableScales + 4L * table[1];
                } else {
                    return false;
                }
            }
            steerVector = vec;
            steerScale = scale;
            rowVectors = rows;
            rowScales = scales;
            return true;
        }

        /**
         * Where y's value is, written now if it was owed (as float32) or if it is x with a branch (and steering) waiting:
         * then the same launches as without the fused kernels.
         */
        private long read(Buf y) {
            if (y.owed != null) {
                y.owed.applyAsLong(null);
                y.owed = null;
            }
            if (y == bx && pendingBranch != 0) {
                dev.add(x, pendingBranch, y.elems);
                if (steerVector != 0) dev.addRowVector(x, steerVector, steerScale, s.n(), c.dim());
                if (rowVectors != 0) dev.addRowTable(x, rowVectors, rowScales, s.n(), c.dim());
                pendingBranch = steerVector = rowVectors = 0;
            }
            return y.ptr;
        }

        /** The input of a product with {@code w}, in the type the product reads. */
        private long input(Buf in, DeviceMatrix w, int n) {
            if (in.owed != null) {
                long at = in.owed.applyAsLong(w);
                in.owed = null;
                return at;
            }
            return toWeightType(w, read(in), n);
        }

        @Override
        public Buf rmsnorm(Buf out, Buf in, float[] weight, int rows, int d, float eps) {
            long w = weightVector(weight);
            if (fused && in == bx && out == bxn) {   // a block's norm: owed to its product, with the waiting branch and steering
                long pending = pendingBranch, steer = steerVector, vectors = rowVectors, scales = rowScales;
                float scale = steerScale;
                pendingBranch = steerVector = rowVectors = 0;
                out.owed = consumer -> {
                    int type = consumer == null ? 0 : CudaDevice.storeType(inputType(consumer, rows));
                    long to = type == 0 ? xn : half;
                    dev.addRmsnorm(x, pending, steer, scale, vectors, scales, to, w, rows, d, eps, type);
                    return to;
                };
                return null;
            }
            dev.rmsnorm(out.ptr, read(in), w, rows, d, eps);
            return null;
        }

        @Override
        public void matmul(WeightMatrix w, Buf in, int n, Buf y) {
            DeviceMatrix dw = deviceMatrix(w);
            matmulConverted(dw, input(in, dw, n), n, y.ptr);
        }

        /** q, k and v: the stacked product when the block has one (raw, fused; or a decode GEMV), else three. */
        @Override
        public void matmul(Buf in, int n, WeightMatrix w1, Buf y1, WeightMatrix w2, Buf y2, WeightMatrix w3, Buf y3) {
            DeviceLayer lw = layerOf.get(w1);
            if (fused && lw.wqkv() != null && lw.qNorm() == 0 && lw.kNorm() == 0) {
                matmulConverted(lw.wqkv(), input(in, lw.wqkv(), n), n, qkv);
                rawQkv = true;
                rawBq = rawBk = rawBv = 0;
                return;
            }
            long xin = read(in);
            if (n == 1 && lw.wqkv() != null && gemv(lw.wqkv(), n)) {
                // one row: the stacked product's output row is q, then k, then v, each where a lone one would be
                matmulConverted(lw.wqkv(), xin, n, qkv);
                y1.ptr = qkv;
                y2.ptr = qkv + 4L * c.qDim();
                y3.ptr = y2.ptr + 4L * c.kvDim();
                return;
            }
            long xq = toWeightType(lw.wq(), xin, n); // q, k and v read the same input: convert it once
            matmulConverted(lw.wq(), xq, n, y1.ptr);
            matmulConverted(lw.wk(), sameInput(lw.wk(), lw.wq(), n) ? xq : toWeightType(lw.wk(), xin, n), n, y2.ptr);
            matmulConverted(lw.wv(), sameInput(lw.wv(), lw.wq(), n) ? xq : toWeightType(lw.wv(), xin, n), n, y3.ptr);
        }

        /** gate and up: the stacked product when the block has one (raw, fused; or a decode GEMV), else two. */
        @Override
        public void matmul(Buf in, int n, WeightMatrix w1, Buf y1, WeightMatrix w2, Buf y2) {
            DeviceLayer lw = layerOf.get(w1);
            if (fused && lw.wGateUp() != null) {
                matmulConverted(lw.wGateUp(), input(in, lw.wGateUp(), n), n, gate);
                rawGateUp = true;
                return;
            }
            if (n == 1 && lw.wGateUp() != null && gemv(lw.wGateUp(), n)) {
                matmulConverted(lw.wGateUp(), read(in), n, gate); // one row: gate then up, one GEMV
                y2.ptr = gate + 4L * c.ffnDim();
                return;
            }
            long xin = read(in);
            matmulConverted(lw.wGate(), toWeightType(lw.wGate(), xin, n), n, y1.ptr);
            matmulConverted(lw.wUp(), toWeightType(lw.wUp(), xin, n), n, y2.ptr);
        }

        @Override
        public void addBias(Buf y, int rows, float[] bias) {
            long b = weightVector(bias);
            if (rawQkv) {   // qkv_rope_store adds it
                if (y == bq) rawBq = b;
                else if (y == bk) rawBk = b;
                else rawBv = b;
                return;
            }
            dev.addRowVector(y.ptr, b, 1f, rows, bias.length);
        }

        @Override
        public void add(Buf y, Buf in) {
            long from = read(in);
            if (fused && y == bx) {   // added by the next norm of x, or by the first reader of x
                read(bx);
                pendingBranch = from;
                return;
            }
            dev.add(read(y), from, y.elems);
        }

        @Override
        public void scale(Buf y, double a) {
            dev.scale(read(y), (float) a, y.elems);
        }

        @Override
        public void softcap(Buf y, int rows, int width, double cap) {
            dev.softcap(read(y), (float) cap, (long) rows * width);
        }

        @Override
        public void siluMul(Buf h, Buf g, Buf u) {
            activation(h, g, u, false);
        }

        @Override
        public void geluMul(Buf h, Buf g, Buf u) {
            activation(h, g, u, true);
        }

        /** h = act(gate) · up in place of gate; fused, owed to the down product and stored in its input type. */
        private void activation(Buf h, Buf g, Buf u, boolean gelu) {
            final int ffn = c.ffnDim();
            final long count = h.elems;
            if (rawGateUp) {
                rawGateUp = false;
                final int n = s.n();
                h.owed = consumer -> {
                    int st = consumer == null ? 0 : CudaDevice.storeType(inputType(consumer, n));
                    long to = st == 0 ? up : half;
                    if (gelu) dev.geluMulStore(to, gate, ffn, count, st);
                    else dev.siluMulStore(to, gate, ffn, count, st);
                    return to;
                };
                return;
            }
            if (h.ptr != g.ptr) throw new IllegalStateException("the device activation runs in place of gate");
            if (gelu) dev.geluMul(g.ptr, read(u), count);
            else dev.siluMul(g.ptr, read(u), count);
        }
    }

    /**
     * Runs the hooks at a point: nothing when there are none; steering adds on the device; anything else on a host copy
     * of the activations, copied back afterwards (the hook may have changed them).
     */
    private void hook(Hooks hooks, HookSite site, int layer, long data, int rows, int width, int[] pos, int[] seq) {
        if (!hooks.has(site, layer)) return;
        List<ForwardHook> list = hooks.at(site, layer);
        boolean allDevice = true;
        for (int hi = 0; hi < list.size(); hi++) {
            ForwardHook h = list.get(hi);
            allDevice &= h instanceof RowVectorAdd r && r.vector().length == width
                    || h instanceof PerSequenceAdds && rowTables.containsKey(tableKey(site, layer, hi));
        }
        if (allDevice) {
            for (int hi = 0; hi < list.size(); hi++) {
                if (list.get(hi) instanceof RowVectorAdd r) {
                    dev.addRowVector(data, deviceVector(r.vector()), r.scale(), rows, width);
                } else { // per-request adds: the k-th add of every row in one launch, from the tables uploaded before the pass
                    int[] table = rowTables.get(tableKey(site, layer, hi));
                    for (int k = 0; k < table[0]; k++) {
                        long at = table[1] + (long) k * rows;
                        dev.addRowTable(data, tablePtrs + 8 * at, tableScales + 4 * at, rows, width);
                    }
                }
            }
            return;
        }
        int count = rows * width;
        hostHookRuns++;
        deviceToHostBytes += 4L * count;
        if (hostScratch.length < count) hostScratch = new float[count];
        dev.copyToHost(hostScratch, 0, data, count);
        hooks.run(site, layer, hostScratch, rows, width, pos, seq);
        dev.copyToDevice(data, hostScratch, 0, count);
    }

    /** Frees the weights and workspace (KV caches are freed when their sessions are collected). */
    @Override
    public synchronized void close() {
        dev.makeCurrent();
        dropGraphs();
        for (long p : allocations) dev.free(p);
        allocations.clear();
        steeringVectors.clear();
        freeWorkspace();
        dev.free(tablePtrs);
        dev.free(tableScales);
        tablePtrs = tableScales = 0;
        tableCapacity = 0;
        dev.free(logitsBuf);
        logitsBuf = 0;
        logitsCapacity = 0;
        dev.free(idsBuf);
        dev.free(pickTemps);
        dev.free(pickKeys);
        idsBuf = pickTemps = pickKeys = 0;
        idsCapacity = 0;
    }
}
