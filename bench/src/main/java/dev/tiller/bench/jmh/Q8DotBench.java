package dev.tiller.bench.jmh;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.Q8Activations;
import dev.tiller.loader.GGMLType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import java.util.concurrent.TimeUnit;

/**
 * One thread, all rows of a Q8_0 matrix against one activation vector: the float dot ({@code floatDot}, what
 * the engine uses) against quantizing the activation once and taking integer dots ({@code intDot}, llama.cpp's
 * vec_dot_q8_0_q8_0). {@code GBps} is weight bytes per second.
 *
 * <p>Two probes take the float dot apart to say where its time goes: {@code noScaleProbe} is the same loop
 * without the per-block f16 scale (loads, int8-to-float conversions and FMAs only; its result is not the dot
 * product), {@code loadOnlyProbe} only reads the same bytes. If floatDot ≈ noScale ≪ loadOnly, the conversions
 * bound it (on AVX-512 each 16 weights cost a sign-extend and a convert on the same two vector ports as the FMA,
 * and the Vector API has no int8 dot-product instruction like VNNI's vpdpbusd to replace the three).
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
    public float[] noScaleProbe(Rates r) {
        var data = w.tensor().data();
        for (int i = 0; i < rows; i++) y[i] = noScale(data, i * w.rowBytes(), x, cols);
        r.GBps += w.rowBytes() * (double) rows / 1e9;
        return y;
    }

    @Benchmark
    public float[] loadOnlyProbe(Rates r) {
        var data = w.tensor().data();
        for (int i = 0; i < rows; i++) y[i] = loadOnly(data, i * w.rowBytes(), cols);
        r.GBps += w.rowBytes() * (double) rows / 1e9;
        return y;
    }

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;

    /** The engine's Q8_0 loop (34-byte blocks: f16 scale, 32 int8) with the scale left out. */
    static float noScale(MemorySegment s, long off, float[] x, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        for (int b = 0; b < n / 32; b++) {
            long bo = off + 34L * b + 2;
            for (int p = 0; p < 16 / F.length(); p++) {
                int xo = 32 * b + p * F.length();
                acc0 = ((FloatVector) ByteVector.fromMemorySegment(B16, s, bo, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, p))
                        .fma(FloatVector.fromArray(F, x, xo), acc0);
                acc1 = ((FloatVector) ByteVector.fromMemorySegment(B16, s, bo + 16, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, F, p))
                        .fma(FloatVector.fromArray(F, x, xo + 16), acc1);
            }
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** Reads the same 32 quant bytes of every block and nothing else. */
    static float loadOnly(MemorySegment s, long off, int n) {
        ByteVector acc = ByteVector.zero(B16);
        for (int b = 0; b < n / 32; b++) {
            long bo = off + 34L * b + 2;
            acc = acc.add(ByteVector.fromMemorySegment(B16, s, bo, ByteOrder.LITTLE_ENDIAN))
                    .add(ByteVector.fromMemorySegment(B16, s, bo + 16, ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(VectorOperators.ADD);
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
