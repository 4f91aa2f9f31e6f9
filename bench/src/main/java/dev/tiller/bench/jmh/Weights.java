package dev.tiller.bench.jmh;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Random weight matrices in native (off-heap) memory, as mapped weights are. */
final class Weights {
    static WeightMatrix random(GGMLType type, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long bytes = type.byteSize((long) rows * cols);
        MemorySegment seg = Arena.global().allocate(bytes, 64);
        float[] row = new float[cols];
        long rowBytes = type.byteSize(cols);
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) row[i] = (float) (rnd.nextDouble() * 2 - 1);
            Quantizer.quantize(type, row, 0, cols, seg, r * rowBytes);
        }
        return new WeightMatrix(new Tensor("bench.weight", type, new long[]{cols, rows}, seg, "jmh"));
    }

    static float[] randomFloats(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextDouble() * 2 - 1);
        return x;
    }

    private Weights() {}
}
