package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The committed kernel image: built from the committed sources, a well-formed fatbin, holding what the loader needs. */
class FatbinTest {
    static final Path CUDA_SOURCES = Path.of("src/main/cuda");

    /** The hash build.sh records: for each file of src/main/cuda sorted by name, its name, a newline, its bytes. */
    static String sourcesHash() throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        List<Path> files;
        try (Stream<Path> s = Files.list(CUDA_SOURCES)) {
            files = s.filter(Files::isRegularFile).sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).toList();
        }
        for (Path f : files) {
            md.update((f.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
            md.update(Files.readAllBytes(f));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void fatbinWasBuiltFromTheCommittedSources() throws Exception {
        assertTrue(Files.isRegularFile(CUDA_SOURCES.resolve("tiller_kernels.cu")), "run the tests from the kernels module");
        assertEquals(Fatbin.recordedSourceHash(), sourcesHash(),
                "kernels/src/main/cuda changed but the fatbin was not rebuilt: run kernels/src/main/cuda/build.sh (needs nvcc) and commit the resources");
    }

    @Test
    void fatbinIsWellFormedWithSassForAmpereAndHopperAndPtx() {
        byte[] image = Fatbin.validated();
        List<Fatbin.Entry> entries = Fatbin.entries(image);
        assertTrue(entries.contains(new Fatbin.Entry("sass", 80, entries.stream().filter(e -> e.kind().equals("sass") && e.arch() == 80)
                .findFirst().map(Fatbin.Entry::bytes).orElse(-1L))), "SASS for sm_80: " + entries);
        assertTrue(entries.stream().anyMatch(e -> e.kind().equals("sass") && e.arch() == 90), "SASS for sm_90: " + entries);
        assertTrue(entries.stream().anyMatch(e -> e.kind().equals("ptx") && e.arch() == 80), "PTX for compute_80: " + entries);
        assertTrue(entries.stream().noneMatch(e -> e.kind().equals("ptx") && e.arch() > 80),
                "PTX only for the lowest architecture (a newer nvcc's PTX is rejected by older drivers): " + entries);
    }

    @Test
    void everyLaunchedKernelIsDefinedInTheSource() throws Exception {
        String src = Files.readString(CUDA_SOURCES.resolve("tiller_kernels.cu"));
        for (String k : Fatbin.KERNELS) {
            assertTrue(src.matches("(?s).*extern \"C\" __global__ void " + k + "\\(.*"), "kernel " + k + " is not an extern \"C\" kernel of the source");
        }
    }

    @Test
    void aCorruptImageIsRejectedWithAClearMessage() {
        byte[] bad = new byte[64];
        var e = assertThrows(IllegalStateException.class, () -> Fatbin.check(bad));
        assertTrue(e.getMessage().contains("not a fatbin"), e.getMessage());
        byte[] img = Fatbin.bytes();
        byte[] truncated = java.util.Arrays.copyOf(img, img.length / 2);
        var t = assertThrows(IllegalStateException.class, () -> Fatbin.check(truncated));
        assertTrue(t.getMessage().contains("unexpected header"), t.getMessage());
    }
}
