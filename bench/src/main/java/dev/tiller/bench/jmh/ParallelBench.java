package dev.tiller.bench.jmh;

import dev.tiller.kernels.Parallel;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/** The fixed cost of handing a range to the worker pool (a decoded token pays it ~170 times). */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ParallelBench {
    @Param({"2"})
    public int threads;

    final int[] sink = new int[64];

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
    }

    @Benchmark
    public int[] emptyRange() {
        Parallel.forRange(threads * 16, 1, (from, to) -> sink[(from & 3) * 16]++);
        return sink;
    }
}
