package dev.tiller.bench.jmh;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.*;

import java.util.concurrent.TimeUnit;

/**
 * The ceiling every float kernel lives under: the FMA throughput of one thread with no memory traffic at all
 * (twelve independent accumulator chains, enough to cover the FMA latency). {@code GFLOPs} counts 2 per lane
 * per FMA. A prefill can be no faster than threads x this / (2 x weights per token); compare
 * MatMulBench's GFLOPs with it to see how much of the ceiling the GEMM reaches.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class FmaPeakBench {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int STEPS = 1 << 16;

    float seed = 1f;

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double GFLOPs;
    }

    @Benchmark
    public float fma(Rates rates) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f), c = FloatVector.broadcast(F, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(F, seed), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
        FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
        FloatVector a8 = a0.add(8f), a9 = a0.add(9f), a10 = a0.add(10f), a11 = a0.add(11f);
        for (int i = 0; i < STEPS; i++) {
            a0 = a0.fma(m, c); a1 = a1.fma(m, c); a2 = a2.fma(m, c); a3 = a3.fma(m, c);
            a4 = a4.fma(m, c); a5 = a5.fma(m, c); a6 = a6.fma(m, c); a7 = a7.fma(m, c);
            a8 = a8.fma(m, c); a9 = a9.fma(m, c); a10 = a10.fma(m, c); a11 = a11.fma(m, c);
        }
        rates.GFLOPs += 12.0 * 2 * F.length() * STEPS / 1e9;
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }
}
