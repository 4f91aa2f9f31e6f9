import dev.tiller.kernels.quant.QuantFormat;
import dev.tiller.kernels.quant.Quantizer;
import dev.tiller.loader.GGMLType;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/**
 * For kquant-sim.sh: random weights quantized by the project's quantizer (args: type rows cols out-prefix), written as the
 * raw ggml blocks (PREFIX.raw) and as the CPU engine's float32 dequantization of them (PREFIX.f32, little-endian).
 */
public class KQuantGen {
    public static void main(String[] a) throws Exception {
        GGMLType t = GGMLType.valueOf(a[0]);
        int rows = Integer.parseInt(a[1]), cols = Integer.parseInt(a[2]);
        Random rnd = new Random(rows * 31L + cols);
        float[] src = new float[rows * cols];
        for (int i = 0; i < src.length; i++) src[i] = (float) rnd.nextGaussian();
        byte[] raw = Quantizer.quantize(t, src);
        float[] cpu = new float[src.length];
        QuantFormat.of(t, "kquant-sim").dequantize(MemorySegment.ofArray(raw), 0, cpu, 0, cpu.length);
        ByteBuffer b = ByteBuffer.allocate(4 * cpu.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : cpu) b.putFloat(v);
        Files.write(Path.of(a[3] + ".raw"), raw);
        Files.write(Path.of(a[3] + ".f32"), b.array());
    }
}
