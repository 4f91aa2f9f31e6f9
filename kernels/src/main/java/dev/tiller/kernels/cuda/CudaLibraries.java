package dev.tiller.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Finds the native libraries the CUDA backend calls through {@code java.lang.foreign}: the driver ({@code libcuda.so.1},
 * installed with the NVIDIA driver) and cuBLAS ({@code libcublas.so.13} of CUDA 13, else {@code libcublas.so.12} of
 * CUDA 12). Calling cuBLAS through FFM rather than JCublas's JNI library means no library is tied to one CUDA major
 * version: the functions used ({@code cublasCreate_v2}, {@code cublasGemmEx}, ...) have the same C signature in both.
 *
 * <p>Search order: the directory in {@code TILLER_CUDA_LIB_DIR}, {@code $CUDA_HOME/lib64}, {@code $CUDA_PATH/lib64},
 * the {@code LD_LIBRARY_PATH} entries, then the usual system folders; a name found in none of them is finally handed
 * to the system loader as is (it knows the {@code ldconfig} cache). Within that, newer versions win: every folder is
 * searched for {@code .so.13} before any for {@code .so.12}.
 */
public final class CudaLibraries {
    public static final List<String> DRIVER_NAMES = List.of("libcuda.so.1", "libcuda.so");
    public static final List<String> CUBLAS_NAMES = List.of("libcublas.so.13", "libcublas.so.12");
    /** Symbols a cuBLAS library must export to be used. */
    public static final List<String> CUBLAS_SYMBOLS = List.of("cublasCreate_v2", "cublasDestroy_v2", "cublasGemmEx",
            "cublasSetMathMode", "cublasGetVersion_v2");
    /** Symbols the driver library must export to be used. */
    public static final List<String> DRIVER_SYMBOLS = List.of("cuInit", "cuDeviceGet", "cuDevicePrimaryCtxRetain", "cuModuleLoadData",
            "cuLaunchKernel", "cuMemAlloc_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2");

    private static final List<String> SYSTEM_DIRS = List.of("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
            "/usr/local/cuda-13/lib64", "/usr/local/cuda-12/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib",
            "/lib/x86_64-linux-gnu", "/usr/lib/wsl/lib", "/usr/local/nvidia/lib64");

    /**
     * A library that was found and loaded; {@code emulated} when its functions are the host emulator's upcall stubs
     * ({@link dev.tiller.kernels.cuda.emulator.CudaEmulator}) rather than native code.
     */
    public record Loaded(String name, String location, SymbolLookup lookup, boolean emulated) {
        public Loaded(String name, String location, SymbolLookup lookup) {
            this(name, location, lookup, false);
        }
    }

    /** The host emulator's {@code libcuda} (see {@link dev.tiller.kernels.cuda.emulator.CudaEmulator}). */
    public static Loaded emulatedDriver() {
        return new Loaded("libcuda (emulated)", dev.tiller.kernels.cuda.emulator.CudaEmulator.NAME,
                dev.tiller.kernels.cuda.emulator.CudaEmulator.driverLibrary(), true);
    }

    /** The host emulator's {@code libcublas}. */
    public static Loaded emulatedCublas() {
        return new Loaded("libcublas (emulated)", dev.tiller.kernels.cuda.emulator.CudaEmulator.NAME,
                dev.tiller.kernels.cuda.emulator.CudaEmulator.cublasLibrary(), true);
    }

    /** An error code's name, with the emulator's account of what failed when {@code lib} is emulated. */
    static String withEmulatorDetail(Loaded lib, String errorName) {
        if (!lib.emulated()) return errorName;
        String detail = dev.tiller.kernels.cuda.emulator.CudaEmulator.takeLastErrorDetail();
        return detail == null ? errorName : errorName + " [emulator: " + detail + "]";
    }

    /** The switch that selects the emulator: {@code -Dtiller.cuda=emulator} or {@code TILLER_CUDA=emulator}. */
    public static boolean emulatorSelected() {
        String v = System.getProperty("tiller.cuda");
        if (v == null || v.isBlank()) v = System.getenv("TILLER_CUDA");
        return v != null && v.trim().equalsIgnoreCase("emulator");
    }

    /** The folders searched, in order, for the given environment. */
    public static List<Path> searchDirs(Map<String, String> env) {
        LinkedHashSet<String> dirs = new LinkedHashSet<>();
        String own = env.get("TILLER_CUDA_LIB_DIR");
        if (own != null && !own.isBlank()) dirs.add(own);
        for (String v : new String[]{"CUDA_HOME", "CUDA_PATH"}) {
            String home = env.get(v);
            if (home != null && !home.isBlank()) {
                dirs.add(home + "/lib64");
                dirs.add(home + "/lib");
            }
        }
        String ld = env.get("LD_LIBRARY_PATH");
        if (ld != null) for (String d : ld.split(":")) if (!d.isBlank()) dirs.add(d);
        dirs.addAll(SYSTEM_DIRS);
        List<Path> out = new ArrayList<>();
        for (String d : dirs) out.add(Path.of(d));
        return out;
    }

    /**
     * The candidate files for {@code names} (most preferred name first) in {@code dirs} that exist, in the order they
     * are tried: all folders for the first name, then all folders for the next.
     */
    public static List<Path> candidates(List<String> names, List<Path> dirs) {
        List<Path> out = new ArrayList<>();
        for (String name : names) {
            for (Path d : dirs) {
                Path p = d.resolve(name);
                if (Files.isRegularFile(p) || Files.isSymbolicLink(p) && Files.exists(p)) out.add(p);
            }
        }
        return out;
    }

    /**
     * Picks the first candidate that {@code usable} accepts (e.g. it loads and exports the needed symbols), then
     * tries the bare names (the system loader's own search). Empty when none is usable.
     */
    public static Optional<String> choose(List<String> names, List<Path> dirs, Predicate<String> usable) {
        for (Path p : candidates(names, dirs)) if (usable.test(p.toString())) return Optional.of(p.toString());
        for (String n : names) if (usable.test(n)) return Optional.of(n);
        return Optional.empty();
    }

    /** Loads the first usable library of {@code names} into {@code arena}, or explains what was looked for. */
    public static Loaded load(String what, List<String> names, List<String> symbols, Arena arena, Map<String, String> env) {
        List<Path> dirs = searchDirs(env);
        List<String> problems = new ArrayList<>();
        SymbolLookup[] found = new SymbolLookup[1];
        Optional<String> chosen = choose(names, dirs, location -> {
            if (location.contains("/") && !isElf(Path.of(location))) {
                problems.add(location + ": not an ELF shared library");
                return false;
            }
            try {
                SymbolLookup l = SymbolLookup.libraryLookup(location, arena);
                List<String> missing = missingSymbols(l, symbols);
                if (!missing.isEmpty()) {
                    problems.add(location + " lacks " + missing);
                    return false;
                }
                found[0] = l;
                return true;
            } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
                if (location.contains("/")) problems.add(location + ": " + e.getMessage());
                return false;
            }
        });
        if (chosen.isEmpty()) {
            throw new CudaUnavailableException("CUDA is not available: no usable " + what + " (" + String.join(" or ", names) + ") found"
                    + (problems.isEmpty() ? "" : "; tried " + problems)
                    + ". Install the NVIDIA driver / CUDA 12 or 13 libraries, set TILLER_CUDA_LIB_DIR, or use --device cpu");
        }
        String loc = chosen.get();
        return new Loaded(loc.substring(loc.lastIndexOf('/') + 1), loc, found[0]);
    }

    /** Whether a file starts with the ELF magic (a file that does not is never handed to the system loader). */
    public static boolean isElf(Path p) {
        try (var in = Files.newInputStream(p)) {
            byte[] m = in.readNBytes(4);
            return m.length == 4 && m[0] == 0x7f && m[1] == 'E' && m[2] == 'L' && m[3] == 'F';
        } catch (java.io.IOException e) {
            return false;
        }
    }

    public static List<String> missingSymbols(SymbolLookup lookup, List<String> symbols) {
        List<String> missing = new ArrayList<>();
        for (String s : symbols) if (lookup.find(s).isEmpty()) missing.add(s);
        return missing;
    }

    private CudaLibraries() {}
}
