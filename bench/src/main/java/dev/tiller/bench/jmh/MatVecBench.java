package dev.tiller.bench.jmh;

import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.BlockSums;
import dev.tiller.loader.GGMLType;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Decode's kernel: y = W x for one token, weights streamed from native memory. {@code GBps} in the output is
 * weight bytes read per second, {@code GFLOPs} is 2 * rows * cols per call. The default shape, 896 rows of 4864
 * columns, is Qwen2.5-0.5B's {@code ffn_down}: one FFN matrix (cache-resident after the first call on a large-cache
 * machine, so it shows the compute side), and 4864 = 19 x 256 suits every format, the K-quants' 256-value blocks
 * included. {@code -p rows=151936 -p cols=896} is Qwen2.5's unembedding, far bigger than any cache (memory-bound).
 *
 * <p>{@code oneRowAtATime} is every row's dot product in turn, one memory stream per thread. {@code matvec} does
 * that too, except for formats with a four-row kernel ({@code QuantFormat.hasFourRowKernel}), where it takes four
 * rows from the four quarters of each thread's range at once; compare the two with rows large enough to stream
 * from DRAM, e.g.
 * {@code ./tiller jmh MatVecBench -p format=Q8_0 -p rows=151936,4864 -p cols=896}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MatVecBench {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    public String format;

    @Param({"896"})
    public int rows;

    @Param({"4864"})
    public int cols;

    @Param({"1"})
    public int threads;

    WeightMatrix w;
    float[] x, y;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        w = Weights.random(GGMLType.valueOf(format), rows, cols, 1);
        x = Weights.randomFloats(cols, 2);
        y = new float[rows];
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GBps, GFLOPs;
    }

    @Benchmark
    public float[] matvec(Rates rates) {
        MatMul.matvec(w, x, 0, y, 0);
        rates.GBps += w.rowBytes() * (double) w.rows() / 1e9;
        rates.GFLOPs += 2.0 * w.rows() * w.cols() / 1e9;
        return y;
    }

    @Benchmark
    public float[] oneRowAtATime(Rates rates) {
        int minRows = Math.max(1, 32 * 1024 / w.cols());
        float[] sums = BlockSums.of(x, 0, w.cols());
        Parallel.forRange(w.rows(), minRows, (from, to) -> {
            for (int r = from; r < to; r++) y[r] = w.dotRow(r, x, 0, sums);
        });
        rates.GBps += w.rowBytes() * (double) w.rows() / 1e9;
        rates.GFLOPs += 2.0 * w.rows() * w.cols() / 1e9;
        return y;
    }

    /** Four rows from the four quarters of each thread's range at once, for every format (what matvec does only for
     * formats with a four-row kernel): the A/B for {@code QuantFormat.hasFourRowKernel}. */
    @Benchmark
    public float[] fourQuarters(Rates rates) {
        int minRows = Math.max(1, 32 * 1024 / w.cols());
        float[] sums = BlockSums.of(x, 0, w.cols());
        Parallel.forRange(w.rows(), minRows, (from, to) -> {
            int q = (to - from) / 4;
            for (int i = from; i < from + q; i++) w.dotRows4(i, i + q, i + 2 * q, i + 3 * q, x, 0, sums, y, 0);
            for (int r = from + 4 * q; r < to; r++) y[r] = w.dotRow(r, x, 0, sums);
        });
        rates.GBps += w.rowBytes() * (double) w.rows() / 1e9;
        rates.GFLOPs += 2.0 * w.rows() * w.cols() / 1e9;
        return y;
    }
}
