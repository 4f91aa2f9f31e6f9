package dev.tiller.bench.jmh;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.Q8Activations;
import dev.tiller.loader.GGMLType;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * One thread, all rows of a Q8_0 matrix against one activation vector: the float dot ({@code floatDot}, what
 * the engine uses) against quantizing the activation once and taking integer dots ({@code intDot}, llama.cpp's
 * vec_dot_q8_0_q8_0). {@code GBps} is weight bytes per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class Q8DotBench {
    @Param({"4864"})
    public int rows;

    @Param({"896"})
    public int cols;

    WeightMatrix w;
    float[] x, y;
    final Q8Activations q8 = new Q8Activations();

    @Setup
    public void setup() {
        w = Weights.random(GGMLType.Q8_0, rows, cols, 1);
        x = Weights.randomFloats(cols, 2);
        y = new float[rows];
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GBps;
    }

    @Benchmark
    public float[] floatDot(Rates r) {
        for (int i = 0; i < rows; i++) y[i] = w.dotRow(i, x, 0);
        r.GBps += w.rowBytes() * (double) rows / 1e9;
        return y;
    }

    @Benchmark
    public float[] intDot(Rates r) {
        q8.quantize(x, 0, cols);
        var data = w.tensor().data();
        for (int i = 0; i < rows; i++) y[i] = q8.dotQ8_0(data, i * w.rowBytes());
        r.GBps += w.rowBytes() * (double) rows / 1e9;
        return y;
    }
}
