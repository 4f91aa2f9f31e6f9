package dev.tiller.bench.jmh;

import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.loader.GGMLType;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * Decode's kernel: y = W x for one token, weights streamed from native memory. {@code GBps} in the output is
 * weight bytes read per second, {@code GFLOPs} is 2 * rows * cols per call. Rows 151936 (Qwen2.5's unembedding)
 * is far bigger than any cache (memory-bound); rows 4864 is one FFN matrix (cache-resident after the first call
 * on a large-cache machine, so it shows the compute side).
 *
 * <p>{@code oneRowAtATime} is the loop {@code matvec} replaced: every row's dot product in turn, one memory stream
 * per thread. {@code matvec} takes four rows from the four quarters of each thread's range at once
 * ({@code QuantFormat.dot4}); compare the two with rows large enough to stream from DRAM, e.g.
 * {@code ./tiller jmh MatVecBench -p format=Q8_0 -p rows=151936,4864}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MatVecBench {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String format;

    @Param({"4864"})
    public int rows;

    @Param({"896"})
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
        Parallel.forRange(w.rows(), minRows, (from, to) -> {
            for (int r = from; r < to; r++) y[r] = w.dotRow(r, x, 0);
        });
        rates.GBps += w.rowBytes() * (double) w.rows() / 1e9;
        rates.GFLOPs += 2.0 * w.rows() * w.cols() / 1e9;
        return y;
    }
}
