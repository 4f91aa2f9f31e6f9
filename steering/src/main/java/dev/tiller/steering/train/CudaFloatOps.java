package dev.tiller.steering.train;

import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.cuda.Cublas;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.kernels.cuda.DeviceFormat;
import dev.tiller.kernels.cuda.DeviceMatrix;
import dev.tiller.models.arch.RopeFrequencies;

/**
 * {@link DiffOps} on the GPU in float32: activations and gradients live on the device, the weights are the CUDA
 * model's own device copies ({@link CudaTransformer#deviceMatrix}), so training a model that was loaded with
 * {@code --device cuda} costs no second copy of it.
 *
 * <p><b>Products.</b> Every product is a float32 cuBLAS GEMM ({@code CUBLAS_COMPUTE_32F}, no TF32): the weight is
 * widened, a tile of rows at a time, from its device format (F16, BF16, or Q8_0 / Q4_0 quants with their scales) into
 * a float32 scratch exactly ({@code widen_f32}), and the activations stay float32. The inference path instead rounds
 * the activations to F16 for tensor-core speed; here gradients can be as small as 1e-8, below F16's range, and the
 * gradients must agree with the float64 reference to 1e-3.
 *
 * <p><b>Attention</b> reuses the inference kernel: packed rows are a KV cache whose base, for row r, is the first row
 * of r's sequence, so row r sees exactly rows rowStart[r] .. r. Its backward ({@code attention_backward}) recomputes the
 * probabilities and adds into dk and dv atomically (rows and heads of a group share them).
 *
 * <p>Memory: a released buffer is kept for reuse by the next request of its size (a pass asks for the same sizes layer
 * after layer, and step after step), instead of {@code cuMemFree}, which waits for the whole device, and a fresh
 * {@code cuMemAlloc}; the kept blocks are freed when an allocation finds the device full, and at {@link #close}.
 * {@link #peakBytes} is the most device memory this backend held at once, kept blocks included (weights not counted).
 */
public final class CudaFloatOps implements DiffOps {
    private final ModelConfig c;
    private final CudaTransformer model;
    private final CudaDevice dev;
    private final Cublas blas;
    private final long freqs, inverseFreqs;   // device doubles: RoPE's frequencies, and negated for the backward
    private final long tile;                  // float32 scratch that weights are widened into
    private final long tileFloats;
    private long live, peak;
    /** Every block taken from the device by {@link #take}, by pointer: its size. */
    private final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();
    /** Released blocks by size, for reuse. */
    private final java.util.Map<Long, java.util.ArrayDeque<Long>> pool = new java.util.HashMap<>();
    private long taken, kept;

    /** The packing whose rows' positions and sequence starts are on the device now (uploaded once per pass). */
    private Packing packing;
    private long positions, rowStarts, baseK, baseV;

    /** Tiles of at most this many weights (64 MiB of float32), or {@code -Dtiller.cuda.trainTile=N}. */
    static long tileLimit() {
        return Long.getLong("tiller.cuda.trainTile", 1L << 24);
    }

    public CudaFloatOps(ModelConfig config, CudaTransformer model) {
        this.c = config;
        this.model = model;
        this.dev = model.device();
        this.blas = dev.blas();
        dev.makeCurrent();
        double[] f = RopeFrequencies.inverse(c.ropeDims(), c.ropeTheta(), c.ropeFreqScale(), c.ropeFreqFactors());
        double[] nf = new double[f.length];
        for (int i = 0; i < f.length; i++) nf[i] = -f[i];   // a rotation by -angle undoes one by +angle
        long widest = Math.max((long) c.vocabSize() * c.dim(), (long) c.ffnDim() * c.dim());
        this.tileFloats = Math.max(Math.max(c.dim(), c.ffnDim()), Math.min(widest, tileLimit()));
        long fr = 0, inv = 0, t = 0;
        try {
            fr = dev.upload(f);
            inv = dev.upload(nf);
            t = dev.alloc(4 * tileFloats);
        } catch (RuntimeException e) {
            dev.free(fr);
            dev.free(inv);
            throw e;
        }
        freqs = fr;
        inverseFreqs = inv;
        tile = t;
    }

    /** A device buffer of float32. */
    static final class Dev implements Buf {
        final long ptr, n;
        boolean freed;

        Dev(long ptr, long n) {
            this.ptr = ptr;
            this.n = n;
        }

        @Override
        public long length() {
            return n;
        }
    }

    private static long p(Buf b) {
        Dev d = (Dev) b;
        if (d.freed) throw new IllegalStateException("device buffer used after it was released");
        return d.ptr;
    }

    private static long n(Buf b) {
        return ((Dev) b).n;
    }

    @Override
    public String describe() {
        return dev.name() + " float32";
    }

    @Override
    public void begin() {
        dev.makeCurrent();
    }

    @Override
    public long peakBytes() {
        return peak;
    }

    /** Device bytes held now by buffers not yet released. */
    long liveBytes() {
        return live;
    }

    // ---- memory ----

    @Override
    public int bytesPerNumber() {
        return Float.BYTES;
    }

    @Override
    public long availableBytes() {
        return dev.freeMemory() + kept;   // kept blocks are this backend's to reuse
    }

    /** A device block of {@code bytes}: a kept one of that size, else a new one (freeing the kept ones if the device is full). */
    private long take(long bytes) {
        java.util.ArrayDeque<Long> q = pool.get(bytes);
        if (q != null && !q.isEmpty()) {
            kept -= bytes;
            return q.pop();
        }
        long ptr;
        try {
            ptr = dev.alloc(bytes);
        } catch (dev.tiller.kernels.cuda.CudaException e) {
            if (e.code() != CudaDevice.OUT_OF_MEMORY || pool.isEmpty()) throw e;
            trim();
            ptr = dev.alloc(bytes);
        }
        sizes.put(ptr, bytes);
        taken += bytes;
        peak = Math.max(peak, taken);
        return ptr;
    }

    /** Gives a block from {@link #take} back for reuse (0 is ignored). */
    private void give(long ptr) {
        if (ptr == 0) return;
        long bytes = sizes.get(ptr);
        pool.computeIfAbsent(bytes, k -> new java.util.ArrayDeque<>()).push(ptr);
        kept += bytes;
    }

    /** Frees the kept blocks. */
    private void trim() {
        for (java.util.ArrayDeque<Long> q : pool.values()) {
            for (long ptr : q) {
                taken -= sizes.remove(ptr);
                dev.free(ptr);
            }
        }
        pool.clear();
        kept = 0;
    }

    private Dev allocate(long n) {
        long ptr = take(4 * Math.max(1, n));
        live += 4 * Math.max(1, n);
        return new Dev(ptr, n);
    }

    @Override
    public Buf zeros(long n) {
        Dev d = allocate(n);
        dev.zero(d.ptr, Math.max(1, n));
        return d;
    }

    @Override
    public Buf copy(Buf src) {
        Dev d = allocate(n(src));
        dev.copy(d.ptr, p(src), 4 * n(src));
        return d;
    }

    @Override
    public void copyInto(Buf dst, Buf src) {
        dev.copy(p(dst), p(src), 4 * n(src));
    }

    @Override
    public void zero(Buf b) {
        dev.zero(p(b), n(b));
    }

    @Override
    public Buf upload(double[] host) {
        Dev d = allocate(host.length);
        float[] f = new float[host.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) host[i];
        dev.copyToDevice(d.ptr, f, 0, f.length);
        return d;
    }

    @Override
    public double[] download(Buf b) {
        float[] f = new float[Math.toIntExact(n(b))];
        dev.copyToHost(f, 0, p(b), f.length);
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) out[i] = f[i];
        return out;
    }

    @Override
    public void release(Buf b) {
        if (b == null) return;
        Dev d = (Dev) b;
        if (d.freed) return;
        d.freed = true;
        give(d.ptr);
        live -= 4 * Math.max(1, d.n);
    }

    @Override
    public void close() {
        dev.makeCurrent();
        freePacking();
        trim();
        dev.free(tile);
        dev.free(freqs);
        dev.free(inverseFreqs);
    }

    /** A short-lived device copy of host ints or longs, freed by the caller. */
    private long ints(int[] a) {
        long ptr = take(4L * Math.max(1, a.length));
        if (a.length > 0) dev.copyToDevice(ptr, a, 0, a.length);
        return ptr;
    }

    private long longs(long[] a) {
        long ptr = take(8L * Math.max(1, a.length));
        if (a.length > 0) dev.copyToDevice(ptr, a, a.length);
        return ptr;
    }

    // ---- embedding, slices, adds ----

    @Override
    public void embed(WeightMatrix table, int[] tokens, int[] rows, Buf x, int dim) {
        if (tokens.length == 0) return;
        model.deviceMatrix(table);   // refuses a table that is not the model's
        long tok = ints(tokens);
        Dev gathered = allocate((long) tokens.length * dim);
        try {
            model.embed(gathered.ptr, tok, tokens.length);
            long[] dst = new long[rows.length], src = new long[rows.length];
            for (int i = 0; i < rows.length; i++) {
                dst[i] = (long) rows[i] * dim;
                src[i] = (long) i * dim;
            }
            slices(x, dst, gathered, src, dim, false);
        } finally {
            give(tok);
            release(gathered);
        }
    }

    @Override
    public void slices(Buf dst, long[] dstOff, Buf src, long[] srcOff, int width, boolean accumulate) {
        if (dstOff.length == 0) return;
        long d = longs(dstOff), s = longs(srcOff);
        try {
            dev.slices(p(dst), d, p(src), s, dstOff.length, width, accumulate);
        } finally {
            give(d);
            give(s);
        }
    }

    @Override
    public void addRowVector(Buf y, int rows, Buf v, long vOff, int width) {
        dev.addRowVector(p(y), p(v) + 4 * vOff, 1f, rows, width);
    }

    @Override
    public void addBias(Buf y, int rows, float[] bias) {
        dev.addRowVector(p(y), model.weightVector(bias), 1f, rows, bias.length);
    }

    @Override
    public void addColumnSums(Buf out, long outOff, Buf y, int rows, int width) {
        dev.addColumnSums(p(out) + 4 * outOff, p(y), rows, width);
    }

    @Override
    public void add(Buf y, Buf x) {
        dev.add(p(y), p(x), n(y));
    }

    // ---- RMSNorm: the kernel's backward recomputes 1/rms from x, so nothing is saved ----

    @Override
    public Buf rmsnorm(Buf out, Buf x, float[] weight, int rows, int d, float eps) {
        dev.rmsnorm(p(out), p(x), model.weightVector(weight), rows, d, eps);
        return null;
    }

    @Override
    public void rmsnormBackward(Buf dx, Buf x, Buf saved, float[] weight, Buf dy, int rows, int d, float eps) {
        dev.rmsnormBackward(p(dx), 0, p(dy), p(x), model.weightVector(weight), rows, d, eps);
    }

    // ---- products: float32 GEMMs over tiles of widened weight rows ----

    private int tileRows(DeviceMatrix w) {
        return (int) Math.max(1, Math.min(w.rows(), tileFloats / w.cols()));
    }

    @Override
    public void matmul(WeightMatrix wm, Buf x, int n, Buf y) {
        DeviceMatrix w = model.deviceMatrix(wm);
        if (w.format() == DeviceFormat.F32) {
            blas.matmulRowMajor(w.ptr(), w.rows(), w.cols(), Cublas.CUDA_R_32F, p(x), n, p(y));
            return;
        }
        int step = tileRows(w);
        for (int r0 = 0; r0 < w.rows(); r0 += step) {
            int rows = Math.min(step, w.rows() - r0);
            DeviceMatrix t = w.view(w.name(), r0, rows);
            dev.widenToFloat(w.format(), tile, t.ptr(), t.scales(), (long) rows * w.cols());
            // y[:, r0 .. r0+rows) = x · tileᵀ: this tile's columns of y (leading dimension the full row count)
            blas.gemm(Cublas.OP_T, Cublas.OP_N, rows, n, w.cols(), tile, w.cols(), p(x), w.cols(), Cublas.CUDA_R_32F, p(y) + 4L * r0, w.rows(), false);
        }
    }

    @Override
    public void matmulTransposeAdd(WeightMatrix wm, Buf dy, int n, Buf dx) {
        DeviceMatrix w = model.deviceMatrix(wm);
        if (w.format() == DeviceFormat.F32) {
            blas.matmulTransposedRowMajor(w.ptr(), w.rows(), w.cols(), Cublas.CUDA_R_32F, p(dy), n, p(dx), true);
            return;
        }
        int step = tileRows(w);
        for (int r0 = 0; r0 < w.rows(); r0 += step) {
            int rows = Math.min(step, w.rows() - r0);
            DeviceMatrix t = w.view(w.name(), r0, rows);
            dev.widenToFloat(w.format(), tile, t.ptr(), t.scales(), (long) rows * w.cols());
            // dx += dy[:, r0 .. r0+rows) · tile
            blas.gemm(Cublas.OP_N, Cublas.OP_N, w.cols(), n, rows, tile, w.cols(), p(dy) + 4L * r0, w.rows(), Cublas.CUDA_R_32F, p(dx), w.cols(), true);
        }
    }

    // ---- RoPE and attention ----

    /** Uploads the rows' positions and sequence starts once per pass. */
    private void use(Packing pk) {
        if (pk == packing) return;
        freePacking();
        positions = ints(pk.pos());
        rowStarts = ints(pk.rowStart());
        baseK = take(8L * Math.max(1, pk.rows()));
        baseV = take(8L * Math.max(1, pk.rows()));
        packing = pk;
    }

    private void freePacking() {
        for (long ptr : new long[]{positions, rowStarts, baseK, baseV}) give(ptr);
        positions = rowStarts = baseK = baseV = 0;
        packing = null;
    }

    @Override
    public void rope(Buf x, int heads, Packing pk, boolean inverse) {
        use(pk);
        dev.rope(p(x), positions, inverse ? inverseFreqs : freqs, pk.rows(), heads, c.headDim(), c.ropeDims(), c.ropeNeox());
    }

    @Override
    public void attention(Buf q, Buf k, Buf v, Buf out, Packing pk, Attention a) {
        use(pk);
        int rows = pk.rows(), kvDim = c.kvDim();
        long[] bk = new long[rows], bv = new long[rows];
        for (int r = 0; r < rows; r++) {
            bk[r] = p(k) + 4L * pk.rowStart()[r] * kvDim;
            bv[r] = p(v) + 4L * pk.rowStart()[r] * kvDim;
        }
        dev.copyToDevice(baseK, bk, rows);
        dev.copyToDevice(baseV, bv, rows);
        dev.attention(p(out), p(q), baseK, baseV, positions, rows, c.heads(), c.kvHeads(), c.headDim(), (float) a.scale(), (float) a.cap(), a.window());
    }

    @Override
    public void attentionBackward(Buf q, Buf k, Buf v, Buf dOut, Buf dq, Buf dk, Buf dv, Packing pk, Attention a) {
        use(pk);
        int stride = pk.maxLength();
        Dev scratch = allocate(2L * pk.rows() * c.heads() * stride);
        try {
            dev.attentionBackward(p(dq), p(dk), p(dv), p(dOut), p(q), p(k), p(v), rowStarts, positions, pk.rows(), c.heads(), c.kvHeads(),
                    c.headDim(), (float) a.scale(), scratch.ptr, stride, (float) a.cap(), a.window());
        } finally {
            release(scratch);
        }
    }

    // ---- losses: one block per row of logits on the device; one float per row comes back ----

    private long floats(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) a[i];
        long ptr = take(4L * Math.max(1, f.length));
        if (f.length > 0) dev.copyToDevice(ptr, f, 0, f.length);
        return ptr;
    }

    private double[] rowsBack(long ptr, int rows) {
        float[] f = new float[rows];
        if (rows > 0) dev.copyToHost(f, 0, ptr, rows);
        double[] out = new double[rows];
        for (int i = 0; i < rows; i++) out[i] = f[i];
        return out;
    }

    @Override
    public double[] logProbs(Buf logits, int rows, int vocab, int[] targets) {
        long t = ints(targets), out = take(4L * Math.max(1, rows));
        try {
            dev.logProbs(out, p(logits), t, rows, vocab);
            return rowsBack(out, rows);
        } finally {
            give(t);
            give(out);
        }
    }

    @Override
    public void addLogProbGradient(Buf dLogits, Buf logits, int rows, int vocab, int[] targets, double[] coef) {
        long t = ints(targets), cf = floats(coef);
        try {
            dev.addLogProbGradient(p(dLogits), p(logits), t, cf, rows, vocab);
        } finally {
            give(t);
            give(cf);
        }
    }

    @Override
    public double[] entropies(Buf logits, int rows, int vocab, double[] coef, Buf dLogits) {
        long cf = coef == null ? 0 : floats(coef), out = take(4L * Math.max(1, rows));
        try {
            dev.entropies(out, dLogits == null ? 0 : p(dLogits), p(logits), cf, rows, vocab);
            return rowsBack(out, rows);
        } finally {
            give(cf);
            give(out);
        }
    }

    // ---- gemma2's element-wise ops ----

    @Override
    public void scale(Buf y, double a) {
        dev.scale(p(y), (float) a, n(y));
    }

    @Override
    public void softcap(Buf y, int rows, int width, double cap) {
        dev.softcap(p(y), (float) cap, (long) rows * width);
    }

    @Override
    public void softcapBackward(Buf dy, Buf y, double cap) {
        dev.softcapBackward(p(dy), p(y), (float) cap, n(dy));
    }

    @Override
    public void geluMul(Buf h, Buf gate, Buf up) {
        dev.copy(p(h), p(gate), 4 * n(gate));
        dev.geluMul(p(h), p(up), n(h));
    }

    @Override
    public void geluMulBackward(Buf dGate, Buf dUp, Buf gate, Buf up, Buf dh) {
        dev.geluMulBackward(p(dGate), p(dUp), p(dh), p(gate), p(up), n(dh));
    }

    // ---- SwiGLU ----

    @Override
    public void siluMul(Buf h, Buf gate, Buf up) {
        dev.copy(p(h), p(gate), 4 * n(gate));
        dev.siluMul(p(h), p(up), n(h));
    }

    @Override
    public void siluMulBackward(Buf dGate, Buf dUp, Buf gate, Buf up, Buf dh) {
        dev.siluMulBackward(p(dGate), p(dUp), p(dh), p(gate), p(up), n(dh));
    }
}
