package dev.tiller.kernels.backward;

import dev.tiller.kernels.WeightMatrix;
import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/** A random rows × cols weight matrix in a format, and its decoded values in float64 for naive reference loops. */
record RandomWeights(WeightMatrix w, double[][] decoded) {
    static RandomWeights of(GGMLType type, int rows, int cols, Random rnd) {
        float[] wf = new float[rows * cols];
        for (int i = 0; i < wf.length; i++) wf[i] = (float) rnd.nextGaussian();
        Tensor t = new Tensor("blk.0.test.weight", type, new long[]{cols, rows}, MemorySegment.ofArray(Quantizer.quantize(type, wf)), "test");
        WeightMatrix w = new WeightMatrix(t).expect(rows, cols);
        double[][] decoded = new double[rows][cols];
        float[] tmp = new float[cols];
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(r, tmp, 0);
            for (int c = 0; c < cols; c++) decoded[r][c] = tmp[c];
        }
        return new RandomWeights(w, decoded);
    }
}
