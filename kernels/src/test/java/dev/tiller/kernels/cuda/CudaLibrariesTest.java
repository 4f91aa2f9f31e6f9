package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Finding libcuda / libcublas, on stand-in folders and files. */
class CudaLibrariesTest {
    @TempDir
    Path tmp;

    private Path touch(Path dir, String name) throws Exception {
        Files.createDirectories(dir);
        return Files.writeString(dir.resolve(name), "not a shared library\n");
    }

    @Test
    void searchOrderIsOwnDirThenCudaHomeThenLdLibraryPathThenSystem() {
        List<Path> dirs = CudaLibraries.searchDirs(Map.of("TILLER_CUDA_LIB_DIR", "/own", "CUDA_HOME", "/cuda", "LD_LIBRARY_PATH", "/a::/b"));
        assertEquals(List.of(Path.of("/own"), Path.of("/cuda/lib64"), Path.of("/cuda/lib"), Path.of("/a"), Path.of("/b")), dirs.subList(0, 5));
        assertTrue(dirs.contains(Path.of("/usr/local/cuda/lib64")));
        assertTrue(dirs.contains(Path.of("/usr/lib/x86_64-linux-gnu")));
        assertEquals(dirs.size(), dirs.stream().distinct().count(), "no folder twice");
    }

    @Test
    void cuda13IsPreferredOverCuda12WhereverEachIs() throws Exception {
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        touch(a, "libcublas.so.12");
        Path c13 = touch(b, "libcublas.so.13");
        assertEquals(List.of(c13, a.resolve("libcublas.so.12")), CudaLibraries.candidates(CudaLibraries.CUBLAS_NAMES, List.of(a, b)));
        assertEquals(c13.toString(), CudaLibraries.choose(CudaLibraries.CUBLAS_NAMES, List.of(a, b), p -> true).orElseThrow());
    }

    @Test
    void cuda12IsUsedWhenThereIsNo13() throws Exception {
        Path a = tmp.resolve("a");
        Path c12 = touch(a, "libcublas.so.12");
        assertEquals(c12.toString(), CudaLibraries.choose(CudaLibraries.CUBLAS_NAMES, List.of(a), p -> true).orElseThrow());
    }

    @Test
    void anUnusableCandidateFallsThroughToTheNextThenToTheSystemLoader() throws Exception {
        Path a = tmp.resolve("a");
        Path c13 = touch(a, "libcublas.so.13");
        Path c12 = touch(a, "libcublas.so.12");
        List<String> tried = new ArrayList<>();
        assertEquals(c12.toString(), CudaLibraries.choose(CudaLibraries.CUBLAS_NAMES, List.of(a), p -> {
            tried.add(p);
            return !p.equals(c13.toString());
        }).orElseThrow());
        tried.clear();
        assertTrue(CudaLibraries.choose(CudaLibraries.CUBLAS_NAMES, List.of(a), p -> {
            tried.add(p);
            return false;
        }).isEmpty());
        assertEquals(List.of(c13.toString(), c12.toString(), "libcublas.so.13", "libcublas.so.12"), tried, "files, then bare names");
    }

    @Test
    void aLibraryWithoutTheCublasSymbolsIsRejectedAndNamed() throws Exception {
        // stand-in: a real ELF shared library (libm) under cuBLAS's name; it loads but exports no cublas* symbol
        Path libm = Stream.of("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6", "/usr/lib64/libm.so.6")
                .map(Path::of).filter(Files::isRegularFile).findFirst().orElse(null);
        assumeTrue(libm != null, "no libm.so.6 to use as a stand-in ELF");
        Path dir = tmp.resolve("standin");
        Files.createDirectories(dir);
        Files.copy(libm, dir.resolve("libcublas.so.13"));
        boolean systemHasCublas = new java.io.File("/usr/local/cuda/lib64/libcublas.so.13").exists()
                || new java.io.File("/usr/local/cuda/lib64/libcublas.so.12").exists();
        assumeTrue(!systemHasCublas, "this machine has a real cuBLAS, which the fallback would find");
        try (Arena arena = Arena.ofConfined()) {
            var e = assertThrows(CudaUnavailableException.class, () -> CudaLibraries.load("cuBLAS library", CudaLibraries.CUBLAS_NAMES,
                    CudaLibraries.CUBLAS_SYMBOLS, arena, Map.of("TILLER_CUDA_LIB_DIR", dir.toString())));
            assertTrue(e.getMessage().contains(dir.resolve("libcublas.so.13") + " lacks [cublasCreate_v2"), e.getMessage());
            assertTrue(e.getMessage().contains("--device cpu"), e.getMessage());
        }
    }

    @Test
    void aGarbageFileIsRejectedNotCrashed() throws Exception {
        Path dir = tmp.resolve("garbage");
        touch(dir, "libcuda.so.1");
        assumeTrue(CudaLibraries.candidates(CudaLibraries.DRIVER_NAMES, CudaLibraries.searchDirs(Map.of())).isEmpty(),
                "this machine has a CUDA driver library");
        try (Arena arena = Arena.ofConfined()) {
            var e = assertThrows(CudaUnavailableException.class, () -> CudaLibraries.load("CUDA driver library", CudaLibraries.DRIVER_NAMES,
                    CudaLibraries.DRIVER_SYMBOLS, arena, Map.of("TILLER_CUDA_LIB_DIR", dir.toString())));
            assertTrue(e.getMessage().startsWith("CUDA is not available: no usable CUDA driver library"), e.getMessage());
            assertTrue(e.getMessage().contains(dir.resolve("libcuda.so.1") + ": not an ELF shared library"), e.getMessage());
        }
    }

    @Test
    void withoutADriverOpeningTheDeviceIsAClearError() {
        assumeTrue(CudaLibraries.candidates(CudaLibraries.DRIVER_NAMES, CudaLibraries.searchDirs(System.getenv())).isEmpty(),
                "this machine has a CUDA driver library");
        var e = assertThrows(CudaUnavailableException.class, CudaDriver::loadNative);
        assertTrue(e.getMessage().contains("CUDA is not available") && e.getMessage().contains("--device cpu"), e.getMessage());
        if (!CudaLibraries.emulatorSelected()) {
            assertFalse(CudaDevice.available());
            assertNotNull(CudaDevice.unavailableReason());
        }
    }

    private static final class Stream {
        static java.util.stream.Stream<String> of(String... s) {
            return java.util.stream.Stream.of(s);
        }
    }
}
