package dev.tiller.kernels.cuda;

import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Quantized weights on the device and the decode GEMV: the repacked Q8_0 / Q4_0 layout dequantizes (to F16 for
 * prefill, to float32 for the embedding) as the CPU does, and every GEMV format equals a float64 product computed here
 * from the file's bytes (not through any kernel or reference), for 1..8 rows, several column tiles, row counts that
 * leave a block's warps idle, and a view into a stacked matrix. Skipped where there is no CUDA device.
 */
class CudaGemvTest extends DeviceTest {

    CudaGemvTest() {
        super(7);
    }

    /** A matrix in its file bytes, its float64 value, and its device form. */
    record Weights(byte[] raw, double[] value, long ptr, long scales) {}

    static GGMLType stored(DeviceFormat f) {
        return GGMLType.valueOf(f.name());
    }

    /** Random weights of {@code rows} x {@code cols} in format f, decoded here in double and uploaded (repacked when quantized). */
    Weights weights(DeviceFormat f, int rows, int cols) {
        int n = rows * cols;
        double[] v = new double[n];
        byte[] raw;
        switch (f) {
            case F16, BF16 -> {
                raw = new byte[2 * n];
                for (int i = 0; i < n; i++) {
                    float x = (float) rnd.nextGaussian();
                    short h;
                    if (f == DeviceFormat.F16) {
                        h = Float.floatToFloat16(x);
                        v[i] = Float.float16ToFloat(h);
                    } else {
                        h = (short) (Float.floatToRawIntBits(x) >>> 16); // truncation: any bf16 value will do
                        v[i] = Float.intBitsToFloat((h & 0xFFFF) << 16);
                    }
                    raw[2 * i] = (byte) h;
                    raw[2 * i + 1] = (byte) (h >> 8);
                }
            }
            default -> {
                int blockBytes = f == DeviceFormat.Q8_0 ? 34 : 18;
                raw = new byte[n / 32 * blockBytes];
                rnd.nextBytes(raw);
                for (int b = 0; b < n / 32; b++) {
                    short d = Float.floatToFloat16((float) (0.02 * (1 + rnd.nextDouble())));
                    raw[b * blockBytes] = (byte) d;
                    raw[b * blockBytes + 1] = (byte) (d >> 8);
                    double scale = Float.float16ToFloat(d);
                    for (int j = 0; j < 32; j++) {
                        int q = f == DeviceFormat.Q8_0 ? raw[b * 34 + 2 + j]
                                : (j < 16 ? raw[b * 18 + 2 + j] & 0x0F : (raw[b * 18 + 2 + j - 16] & 0xFF) >> 4) - 8;
                        v[b * 32 + j] = scale * q;
                    }
                }
            }
        }
        long ptr = dev.alloc(f.bytes(rows, cols)), scales = 0;
        if (f.quantized()) {
            scales = ptr + rows * f.rowBytes(cols);
            long tmp = dev.alloc(raw.length);
            dev.driver().copyToDevice(tmp, MemorySegment.ofArray(raw), raw.length);
            dev.repack(f, ptr, scales, tmp, n / 32);
            dev.free(tmp);
        } else {
            dev.driver().copyToDevice(ptr, MemorySegment.ofArray(raw), raw.length);
        }
        return new Weights(raw, v, ptr, scales);
    }

    /** y[t][r] in float64 and the bound on float32 rounding: 2e-6 * sum |w x| (a sum of a few thousand terms). */
    static void checkProduct(double[] w, float[] x, float[] y, int rows, int cols, int n, int r0, String what) {
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double exact = 0, mag = 0;
                for (int c = 0; c < cols; c++) {
                    double p = w[(r0 + r) * cols + c] * x[t * cols + c];
                    exact += p;
                    mag += Math.abs(p);
                }
                assertEquals(exact, y[t * rows + r], 2e-6 * mag + 1e-6, what + " y[" + t + "][" + r + "]");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = DeviceFormat.class, names = {"F16", "BF16", "Q8_0", "Q4_0"})
    void gemvEqualsAFloat64Product(DeviceFormat f) {
        // 2144 columns: one staged tile for n = 1, two for n = 3, three (the last partial) for n = 8; rows shared by 2
        // or 4 warps. 256 columns: one warp per row. 37 and 9 rows leave warps of the last block idle.
        gemvEqualsAFloat64Product(f, 2144, (rows, cols) -> weights(f, rows, cols));
    }

    /**
     * The GEMV of {@code f} against float64 products of its weights: rows x wide (staged tiles, rows shared by warps,
     * idle warps) and 9 x 256 for 1, 3 and 8 activation rows, then rows 9..20 of 37 x wide as a matrix of their own
     * (the view of a stacked q|k|v).
     */
    void gemvEqualsAFloat64Product(DeviceFormat f, int wide, java.util.function.BiFunction<Integer, Integer, Weights> make) {
        for (int[] shape : new int[][]{{37, wide}, {9, 256}}) {
            int rows = shape[0], cols = shape[1];
            Weights w = make.apply(rows, cols);
            for (int n : new int[]{1, 3, 8}) {
                float[] x = random(n * cols);
                long dx = dev.upload(x), y = dev.alloc(4L * n * rows);
                dev.gemv(f, y, w.ptr(), w.scales(), dx, rows, cols, n);
                String what = f + " " + rows + "x" + cols + " split " + CudaDevice.gemvSplit(f, rows, cols) + " n=" + n;
                checkProduct(w.value(), x, download(y, n * rows), rows, cols, n, 0, what);
                dev.free(dx);
                dev.free(y);
            }
        }
        int rows = 37, cols = wide, r0 = 9, count = 12;
        Weights w = make.apply(rows, cols);
        float[] x = random(2 * cols);
        long dx = dev.upload(x), y = dev.alloc(4L * 2 * count);
        dev.gemv(f, y, w.ptr() + r0 * f.rowBytes(cols), w.scales() == 0 ? 0 : w.scales() + r0 * f.scaleBytes(cols), dx, count, cols, 2);
        checkProduct(w.value(), x, download(y, 2 * count), count, cols, 2, r0, f + " view");
    }

    /** Repacked Q8_0 / Q4_0 to F16 (prefill's tiles) and to float32 rows (the embedding), against the CPU's dequantization. */
    @ParameterizedTest
    @EnumSource(value = DeviceFormat.class, names = {"Q8_0", "Q4_0"})
    void repackedWeightsDequantizeAsOnTheCpu(DeviceFormat f) {
        int rows = 5, cols = 96;
        Weights w = weights(f, rows, cols);
        float[] cpu = new float[rows * cols];
        QuantFormat.of(stored(f), "test").dequantize(MemorySegment.ofArray(w.raw()), 0, cpu, 0, cpu.length);
        for (int i = 0; i < cpu.length; i++) assertEquals(w.value()[i], cpu[i], 0, "this test's decoding vs the CPU's, weight " + i);

        long h = dev.alloc(2L * rows * cols), f32 = dev.alloc(4L * rows * cols), token = dev.alloc(4);
        dev.dequantToHalf(f, h, w.ptr(), w.scales(), (long) rows * cols);
        dev.copyToDevice(token, new int[]{0}, 0, 1);
        dev.embed(f32, h, 1, token, 1, rows * cols); // "row 0" of an f16 table of the whole run = its float32 values
        float[] half = download(f32, rows * cols);
        for (int i = 0; i < cpu.length; i++) assertEquals(Float.float16ToFloat(Float.floatToFloat16(cpu[i])), half[i], 0, f + " to f16 [" + i + "]");

        long tokens = dev.alloc(8);
        dev.copyToDevice(tokens, new int[]{3, 1}, 0, 2);
        dev.embedQuantized(f32, f, w.ptr(), w.scales(), tokens, 2, cols);
        float[] rowsOut = download(f32, 2 * cols);
        for (int c = 0; c < cols; c++) {
            assertEquals(cpu[3 * cols + c], rowsOut[c], 0, f + " embedding row 3 [" + c + "]");
            assertEquals(cpu[cols + c], rowsOut[cols + c], 0, f + " embedding row 1 [" + c + "]");
        }
    }

    /**
     * Q5_0 and K-quant weights as a GGUF holds them: random floats quantized by the project's quantizer, their value the
     * CPU's dequantization (checked against llama.cpp's own by the quant tests), uploaded in the device form (Q4_K / Q5_K
     * as stored, Q5_0 / Q6_K repacked).
     */
    Weights kQuantWeights(DeviceFormat f, int rows, int cols) {
        GGMLType t = stored(f);
        float[] src = random(rows * cols);
        byte[] raw = Quantizer.quantize(t, src);
        float[] cpu = new float[rows * cols];
        QuantFormat.of(t, "test").dequantize(MemorySegment.ofArray(raw), 0, cpu, 0, cpu.length);
        long ptr = dev.alloc(f.bytes(rows, cols)), scales = f.hasScales() ? ptr + rows * f.rowBytes(cols) : 0;
        if (f.hasScales()) {
            long tmp = dev.alloc(raw.length);
            dev.driver().copyToDevice(tmp, MemorySegment.ofArray(raw), raw.length);
            dev.repack(f, ptr, scales, tmp, (long) rows * cols / f.blockWeights());
            dev.free(tmp);
        } else {
            assertEquals(raw.length, f.bytes(rows, cols), f + " is held as stored");
            dev.driver().copyToDevice(ptr, MemorySegment.ofArray(raw), raw.length);
        }
        return new Weights(raw, toDouble(cpu), ptr, scales);
    }

    @ParameterizedTest
    @EnumSource(value = DeviceFormat.class, names = {"Q5_0", "Q4_1", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void kQuantGemvEqualsAFloat64ProductOfTheCpusWeights(DeviceFormat f) {
        // 2304 columns = 9 super-blocks: one staged tile for n = 1, three for n = 8 (the last one super-block wide);
        // 256 columns: one super-block, fewer loads than a warp has lanes. 37 and 9 rows leave warps idle. Q5_0 takes
        // 2144 columns (67 blocks): its 20-byte blocks then leave the view of rows 9.. only 4-byte aligned.
        gemvEqualsAFloat64Product(f, f.blockWeights() == 32 ? 2144 : 2304, (rows, cols) -> kQuantWeights(f, rows, cols));
    }

    /**
     * K-quants to F16 (prefill's tiles), to float32 (training's tiles) and as embedding rows, against the CPU's
     * dequantization, bit for bit (training's backward then multiplies by the CPU forward's weights).
     */
    @ParameterizedTest
    @EnumSource(value = DeviceFormat.class, names = {"Q5_0", "Q4_1", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void kQuantsDequantizeAsOnTheCpu(DeviceFormat f) {
        int rows = 5, cols = 512, n = rows * cols;
        Weights w = kQuantWeights(f, rows, cols);
        double tol = 0;

        long h = dev.alloc(2L * n), f32 = dev.alloc(4L * n), token = dev.alloc(4);
        dev.dequantToHalf(f, h, w.ptr(), w.scales(), n);
        dev.copyToDevice(token, new int[]{0}, 0, 1);
        dev.embed(f32, h, 1, token, 1, n);
        float[] half = download(f32, n);
        for (int i = 0; i < n; i++) assertEquals(Float.float16ToFloat(Float.floatToFloat16((float) w.value()[i])), half[i], 0, f + " to f16 [" + i + "]");

        dev.widenToFloat(f, f32, w.ptr(), w.scales(), n);
        float[] wide = download(f32, n);
        for (int i = 0; i < n; i++) assertEquals(w.value()[i], wide[i], tol, f + " to float32 [" + i + "]");

        long tokens = dev.alloc(8);
        dev.copyToDevice(tokens, new int[]{3, 1}, 0, 2);
        dev.embedQuantized(f32, f, w.ptr(), w.scales(), tokens, 2, cols);
        float[] rowsOut = download(f32, 2 * cols);
        for (int c = 0; c < cols; c++) {
            assertEquals(w.value()[3 * cols + c], rowsOut[c], tol, f + " embedding row 3 [" + c + "]");
            assertEquals(w.value()[cols + c], rowsOut[cols + c], tol, f + " embedding row 1 [" + c + "]");
        }
    }

    /** A GEMV recorded into a graph and replayed reads the activations as they are at replay: no host step inside. */
    @Test
    void gemvIsCapturedAndReplayedInAGraph() {
        int rows = 20, cols = 256;
        Weights w = weights(DeviceFormat.Q4_0, rows, cols);
        long dx = dev.alloc(4L * cols), y = dev.alloc(4L * rows);
        dev.copyToDevice(dx, random(cols), 0, cols);
        dev.synchronize();
        dev.beginCapture();
        dev.gemv(DeviceFormat.Q4_0, y, w.ptr(), w.scales(), dx, rows, cols, 1);
        CudaDevice.Graph g = dev.endCapture();
        try {
            float[] x = random(cols);
            dev.copyToDevice(dx, x, 0, cols);
            dev.launch(g);
            dev.synchronize();
            checkProduct(w.value(), x, download(y, rows), rows, cols, 1, 0, "replayed");
        } finally {
            dev.destroy(g);
        }
    }

    /** Warps per row: four for Qwen2.5-0.5B's down projection, one for its output matrix and for short Q4_0 rows. */
    @Test
    void shortMatricesShareRowsAmongWarps() {
        assertEquals(4, CudaDevice.gemvSplit(DeviceFormat.F16, 896, 4864));
        assertEquals(4, CudaDevice.gemvSplit(DeviceFormat.Q4_0, 896, 4864));
        assertEquals(1, CudaDevice.gemvSplit(DeviceFormat.F16, 151936, 896));
        assertEquals(1, CudaDevice.gemvSplit(DeviceFormat.Q4_0, 1152, 896)); // 28 blocks a row: one warp's worth
        assertEquals(2, CudaDevice.gemvSplit(DeviceFormat.F16, 1152, 896));
        assertEquals(8192, CudaDevice.gemvTile(1, 8192));
        assertEquals(1024, CudaDevice.gemvTile(8, 4864));
        assertEquals(1024, CudaDevice.gemvTile(1, 896));
    }

    @Test
    void whatTheDeviceCannotReadIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> dev.gemv(DeviceFormat.F32, 0, 0, 0, 0, 4, 64, 1));
        assertTrue(e.getMessage().contains("F32"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> dev.gemv(DeviceFormat.F16, 0, 0, 0, 0, 4, 60, 1));
        assertTrue(e2.getMessage().contains("F16") && e2.getMessage().contains("60"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> dev.gemv(DeviceFormat.Q8_0, 0, 0, 0, 0, 4, 64, 9));
        Tensor bad = new Tensor("blk.3.ffn_down.weight", GGMLType.IQ2_XXS, new long[]{256, 4}, MemorySegment.ofArray(new byte[66 * 4]), "m.gguf");
        var e3 = assertThrows(IllegalArgumentException.class, () -> DeviceFormat.of(bad));
        assertTrue(e3.getMessage().contains("blk.3.ffn_down.weight") && e3.getMessage().contains("IQ2_XXS"), e3.getMessage());
        assertEquals(DeviceFormat.Q4_K, DeviceFormat.of(new Tensor("t", GGMLType.Q4_K, new long[]{256, 1}, MemorySegment.ofArray(new byte[144]), "m")));
        assertEquals(DeviceFormat.Q5_0, DeviceFormat.of(new Tensor("t", GGMLType.Q5_0, new long[]{32, 1}, MemorySegment.ofArray(new byte[22]), "m")));
        assertEquals(DeviceFormat.Q4_1, DeviceFormat.of(new Tensor("t", GGMLType.Q4_1, new long[]{32, 1}, MemorySegment.ofArray(new byte[20]), "m")));
    }
}
