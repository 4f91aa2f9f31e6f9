package dev.tiller.bench.jmh;

import dev.tiller.kernels.VectorOps;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/** The element-wise and row-wise kernels at Qwen2.5-0.5B sizes; {@code GBps} counts floats read and written. */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class VectorOpsBench {
    @Param({"4864"})
    public int n;

    float[] x, y, w, out, cos, sin;

    @Setup
    public void setup() {
        x = Weights.randomFloats(n, 1);
        y = Weights.randomFloats(n, 2);
        w = Weights.randomFloats(n, 3);
        out = new float[n];
        cos = Weights.randomFloats(32, 4);
        sin = Weights.randomFloats(32, 5);
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GBps;
    }

    @Benchmark
    public float[] rmsnorm(Rates r) {
        VectorOps.rmsnorm(out, 0, x, 0, w, n, 1e-6f);
        r.GBps += 4.0 * n * 4 / 1e9;
        return out;
    }

    @Benchmark
    public float[] siluMul(Rates r) {
        System.arraycopy(y, 0, out, 0, n);
        VectorOps.siluMul(out, 0, x, 0, n);
        r.GBps += 3.0 * n * 4 / 1e9;
        return out;
    }

    @Benchmark
    public float[] softmax(Rates r) {
        System.arraycopy(x, 0, out, 0, n);
        VectorOps.softmax(out, 0, n);
        r.GBps += 2.0 * n * 4 / 1e9;
        return out;
    }

    /** RoPE over all 14 query heads of 64 dims (NeoX ordering), as for one token. */
    @Benchmark
    public float[] ropeNeox(Rates r) {
        for (int h = 0; h < 14; h++) VectorOps.rope(out, h * 64, cos, sin, 64, true);
        r.GBps += 2.0 * 14 * 64 * 4 / 1e9;
        return out;
    }
}
