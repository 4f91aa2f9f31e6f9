package dev.tiller.bench.jmh;

import dev.tiller.kernels.Parallel;
import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.backward.DoubleMatMul;
import dev.tiller.kernels.backward.FloatMatMul;
import dev.tiller.loader.GGMLType;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Training's backward product dX += dY·W with the weights read in place, in float32 ({@link FloatMatMul}, what
 * {@code train --precision mixed} runs) and float64 ({@link DoubleMatMul}, the reference); {@code GFLOPs} is
 * 2 * tokens * rows * cols per call. Compare with {@link MatMulBench}'s forward product on the same shape.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TransposedProductBench {
    @Param({"F16", "Q8_0", "Q4_K"})
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
    float[] dy, dx;
    double[] dyd, dxd;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        w = Weights.random(GGMLType.valueOf(format), rows, cols, 1);
        dy = Weights.randomFloats(tokens * rows, 2);
        dx = new float[tokens * cols];
        dyd = new double[dy.length];
        for (int i = 0; i < dy.length; i++) dyd[i] = dy[i];
        dxd = new double[dx.length];
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GFLOPs;
    }

    @Benchmark
    public float[] float32(Rates rates) {
        FloatMatMul.matmulTransposeAdd(w, dy, tokens, dx);
        rates.GFLOPs += 2.0 * tokens * w.rows() * w.cols() / 1e9;
        return dx;
    }

    @Benchmark
    public double[] float64(Rates rates) {
        DoubleMatMul.matmulTransposeAdd(w, dyd, tokens, dxd);
        rates.GFLOPs += 2.0 * tokens * w.rows() * w.cols() / 1e9;
        return dxd;
    }
}
