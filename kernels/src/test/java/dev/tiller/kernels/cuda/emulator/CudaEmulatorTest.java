package dev.tiller.kernels.cuda.emulator;

import dev.tiller.kernels.cuda.Fatbin;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** The emulator against the kernel source it stands in for. */
class CudaEmulatorTest {
    /** Every kernel's parameter list in tiller_kernels.cu, as a signature string (p pointer, l long, i int, f float). */
    static Map<String, String> sourceSignatures() throws Exception {
        String src = Files.readString(Path.of("src/main/cuda/tiller_kernels.cu"));
        Matcher m = Pattern.compile("extern \"C\" __global__ void (\\w+)\\(([^)]*)\\)").matcher(src);
        Map<String, String> out = new TreeMap<>();
        while (m.find()) {
            StringBuilder sig = new StringBuilder();
            for (String param : m.group(2).split(",")) {
                String p = param.trim();
                if (p.contains("*")) sig.append('p');
                else if (p.startsWith("long")) sig.append('l');
                else if (p.startsWith("int")) sig.append('i');
                else if (p.startsWith("float")) sig.append('f');
                else fail(m.group(1) + ": parameter type of '" + p + "' has no emulator signature letter");
            }
            out.put(m.group(1), sig.toString());
        }
        return out;
    }

    @Test
    void everyKernelHasAReferenceWithTheSourcesSignature() throws Exception {
        Map<String, String> source = sourceSignatures();
        assertEquals(source, CudaEmulator.kernelSignatures(), "kernel name -> parameter signature, .cu source vs emulator");
        assertEquals(new java.util.TreeSet<>(Fatbin.KERNELS), source.keySet(), "kernels the Java side launches vs kernels in the source");
    }

    /** attention_tiled's grid is sized on the Java side: its rows per block must be the kernel's. */
    @Test
    void tiledAttentionRowsPerBlockAgreeWithTheSource() throws Exception {
        Matcher m = Pattern.compile("#define ATT_TILE_ROWS (\\d+)").matcher(Files.readString(Path.of("src/main/cuda/tiller_kernels.cu")));
        assertTrue(m.find(), "ATT_TILE_ROWS in the source");
        assertEquals(Integer.parseInt(m.group(1)), dev.tiller.kernels.cuda.CudaDevice.ATTENTION_TILE_ROWS, "CudaDevice");
        assertEquals(Integer.parseInt(m.group(1)), ReferenceKernels.ATTENTION_TILE_ROWS, "the emulator's reference");
    }
}
