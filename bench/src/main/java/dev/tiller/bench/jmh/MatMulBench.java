package dev.tiller.bench.jmh;

import dev.tiller.kernels.MatMul;
import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.loader.GGMLType;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/** Prefill's kernel: Y = X W^T for {@code tokens} tokens; {@code GFLOPs} is 2 * tokens * rows * cols per call. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MatMulBench {
    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    public String format;

    @Param({"896"})
    public int rows;

    @Param({"4864"})
    public int cols;

    @Param({"128"})
    public int tokens;

    @Param({"1"})
    public int threads;

    WeightMatrix w;
    float[] x, y;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        w = Weights.random(GGMLType.valueOf(format), rows, cols, 1);
        x = Weights.randomFloats(tokens * cols, 2);
        y = new float[tokens * rows];
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GFLOPs;
    }

    @Benchmark
    public float[] matmul(Rates rates) {
        MatMul.matmul(w, x, tokens, y);
        rates.GFLOPs += 2.0 * tokens * w.rows() * w.cols() / 1e9;
        return y;
    }
}
