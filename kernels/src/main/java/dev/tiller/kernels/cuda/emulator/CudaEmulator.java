package dev.tiller.kernels.cuda.emulator;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A CUDA GPU emulated on the host, for tests on machines without one. It stands in for {@code libcuda.so.1} and
 * {@code libcublas.so}: each driver and cuBLAS function Tiller calls is a Java method exported as an FFM upcall stub,
 * and {@link #driverLibrary()} / {@link #cublasLibrary()} hand those stubs out through a {@link SymbolLookup}
 * ({@code CudaLibraries.emulatedDriver()} / {@code emulatedCublas()} wrap them as loaded libraries). The
 * backend ({@code CudaDriver}, {@code Cublas}) binds its downcall handles to them exactly as it binds them to the real
 * libraries, so every {@code invokeExact} call site, argument type and return-code check is exercised on every
 * machine. Selected with {@code -Dtiller.cuda=emulator} or {@code TILLER_CUDA=emulator}.
 *
 * <ul>
 *   <li>Device memory is native host memory (see {@link DeviceMemory}: bounds-checked, filled with NaNs when
 *       allocated, limited to {@code tiller.cuda.emulator.memory} bytes, default 16 GiB).</li>
 *   <li>{@code cuModuleLoadData} checks the fatbin header; {@code cuModuleGetFunction} finds a kernel only if its name
 *       is in the image and {@link ReferenceKernels} has a Java reference for it.</li>
 *   <li>{@code cuLaunchKernel} checks the launch configuration as the driver does, then runs the reference kernel.</li>
 *   <li>{@code cublasGemmEx} is computed by {@link HostGemm}.</li>
 * </ul>
 *
 * <p>Work runs when it is issued (the default stream is synchronous here). An exception inside an emulated function
 * never crosses the upcall (that would end the JVM): it becomes the CUDA / cuBLAS error code a real GPU would give
 * (e.g. {@code CUDA_ERROR_ILLEGAL_ADDRESS} for an out-of-bounds access), and its message is kept for
 * {@link #takeLastErrorDetail()}, which the backend appends to its exception.
 */
public final class CudaEmulator {
    public static final String NAME = "CUDA emulator (host memory, Java reference kernels)";
    static final int SUCCESS = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_DEVICE = 101, INVALID_IMAGE = 200,
            INVALID_HANDLE = 400, NOT_FOUND = 500, ILLEGAL_ADDRESS = 700, LAUNCH_FAILED = 719, CAPTURE_UNSUPPORTED = 900, CAPTURE_IMPLICIT = 906;
    private static final Map<Integer, String> ERROR_NAMES = Map.ofEntries(
            Map.entry(SUCCESS, "CUDA_SUCCESS"),
            Map.entry(INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE"),
            Map.entry(OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY"),
            Map.entry(NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED"),
            Map.entry(INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE"),
            Map.entry(INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE"),
            Map.entry(INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE"),
            Map.entry(NOT_FOUND, "CUDA_ERROR_NOT_FOUND"),
            Map.entry(ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS"),
            Map.entry(LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED"),
            Map.entry(CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"),
            Map.entry(CAPTURE_IMPLICIT, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"));
    private static final int COMPUTE_CAPABILITY = 90;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final Arena ARENA = Arena.global();
    private static volatile DeviceMemory memory;
    private static volatile boolean initialised;
    private static volatile String lastErrorDetail;
    private static final Map<Long, String> functions = new ConcurrentHashMap<>();
    private static final Map<Long, byte[]> modules = new ConcurrentHashMap<>();
    private static final Map<Integer, MemorySegment> errorNameStrings = new ConcurrentHashMap<>();
    private static final MemorySegment CONTEXT = ARENA.allocate(64), BLAS_HANDLE = ARENA.allocate(64);

    private static SymbolLookup driver, cublas;

    /**
     * {@code -Dtiller.cuda.emulator.trace=FILE}: every kernel launch (name, grid, block, shared bytes, argument values),
     * GEMM, copy and graph launch, one line each in issue order, appended to FILE. A developer's tool: two builds that
     * should issue the same work (a refactoring of a forward) can be compared with diff, without a GPU.
     */
    private static final java.io.PrintStream TRACE = openTrace();

    private static java.io.PrintStream openTrace() {
        String file = System.getProperty("tiller.cuda.emulator.trace");
        if (file == null) return null;
        try {
            return new java.io.PrintStream(new java.io.FileOutputStream(file, true), true, java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("tiller.cuda.emulator.trace: cannot write " + file, e);
        }
    }

    private static String traceArgs(String sig, Object[] args) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < args.length; i++) b.append(i == 0 ? "" : " ").append(sig.charAt(i) == 'p' ? mem().describe((Long) args[i]) : args[i]);
        return b.toString();
    }

    private static void trace(String line) {
        if (TRACE != null) TRACE.println(line);
    }

    // ------------------------------------------------------------------ streams and graph capture
    // Work runs when issued, so a stream is only a name. While a stream captures, what is issued on it is recorded
    // (a kernel with its argument values as they were at launch, a GEMM with its operands' addresses) and replayed
    // in order by cuGraphLaunch. As on a GPU, work on the legacy default stream (NULL) while a blocking stream
    // captures is an error (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT): it would have to wait for work that has not run.
    private static volatile long capturing;
    private static volatile long blasStream;
    private static List<Runnable> recording;
    private static final Map<Long, List<Runnable>> graphs = new ConcurrentHashMap<>();

    /** Whether work issued on {@code stream} is to be recorded; throws for legacy-stream work during a capture. */
    private static boolean record(long stream, String what) {
        long c = capturing;
        if (c == 0) return false;
        if (stream == c) return true;
        if (stream == 0) throw new CaptureViolation(CAPTURE_IMPLICIT, what + " on the legacy stream while a blocking stream is capturing");
        return false;
    }

    private static final class CaptureViolation extends RuntimeException {
        final int code;

        CaptureViolation(int code, String m) {
            super(m);
            this.code = code;
        }
    }

    static int cuStreamCreate(MemorySegment stream, int flags) {
        return guard("cuStreamCreate", () -> {
            out(stream, 8).set(ADDRESS, 0, ARENA.allocate(16));
            return SUCCESS;
        });
    }

    static int cuStreamBeginCapture_v2(MemorySegment stream, int mode) {
        return guard("cuStreamBeginCapture", () -> {
            if (stream.address() == 0) throw new CaptureViolation(CAPTURE_UNSUPPORTED, "the legacy stream cannot be captured");
            synchronized (CudaEmulator.class) {
                if (capturing != 0) throw new IllegalArgumentException("a stream is already capturing");
                recording = new java.util.ArrayList<>();
                capturing = stream.address();
            }
            return SUCCESS;
        });
    }

    static int cuStreamEndCapture(MemorySegment stream, MemorySegment graph) {
        return guard("cuStreamEndCapture", () -> {
            synchronized (CudaEmulator.class) {
                if (capturing == 0 || stream.address() != capturing) throw new IllegalArgumentException("the stream is not capturing");
                MemorySegment g = ARENA.allocate(16);
                graphs.put(g.address(), List.copyOf(recording));
                capturing = 0;
                recording = null;
                out(graph, 8).set(ADDRESS, 0, g);
            }
            return SUCCESS;
        });
    }

    static int cuGraphInstantiateWithFlags(MemorySegment exec, MemorySegment graph, long flags) {
        return guard("cuGraphInstantiate", () -> {
            List<Runnable> ops = graphs.get(graph.address());
            if (ops == null) return INVALID_HANDLE;
            MemorySegment e = ARENA.allocate(16);
            graphs.put(e.address(), ops);
            out(exec, 8).set(ADDRESS, 0, e);
            return SUCCESS;
        });
    }

    static int cuGraphLaunch(MemorySegment exec, MemorySegment stream) {
        return guard("cuGraphLaunch", () -> {
            List<Runnable> ops = graphs.get(exec.address());
            if (ops == null) return INVALID_HANDLE;
            if (record(stream.address(), "cuGraphLaunch")) throw new CaptureViolation(CAPTURE_UNSUPPORTED, "graph launch inside a capture");
            trace("graph launch (" + ops.size() + " operations)");
            for (Runnable op : ops) op.run();
            return SUCCESS;
        });
    }

    static int cuGraphExecDestroy(MemorySegment exec) {
        return graphs.remove(exec.address()) == null ? INVALID_HANDLE : SUCCESS;
    }

    static int cuGraphDestroy(MemorySegment graph) {
        return graphs.remove(graph.address()) == null ? INVALID_HANDLE : SUCCESS;
    }

    static int cublasSetStream_v2(MemorySegment handle, MemorySegment stream) {
        if (handle.address() != BLAS_HANDLE.address()) return 1;
        blasStream = stream.address();
        return SUCCESS;
    }

    static int cublasSetWorkspace_v2(MemorySegment handle, MemorySegment workspace, long bytes) {
        if (handle.address() != BLAS_HANDLE.address()) return 1;
        return guard("cublasSetWorkspace", () -> {
            if (workspace.address() != 0) mem().range(workspace.address(), bytes);
            return SUCCESS;
        });
    }

    /** The emulated {@code libcuda}: every function {@code CudaDriver} binds, by name. */
    public static synchronized SymbolLookup driverLibrary() {
        if (driver == null) {
            Map<String, MemorySegment> stubs = new HashMap<>();
            stub(stubs, "cuInit", JAVA_INT);
            stub(stubs, "cuDriverGetVersion", ADDRESS);
            stub(stubs, "cuDeviceGetCount", ADDRESS);
            stub(stubs, "cuDeviceGet", ADDRESS, JAVA_INT);
            stub(stubs, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
            stub(stubs, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
            stub(stubs, "cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
            stub(stubs, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
            stub(stubs, "cuCtxSetCurrent", ADDRESS);
            stub(stubs, "cuCtxSynchronize");
            stub(stubs, "cuModuleLoadData", ADDRESS, ADDRESS);
            stub(stubs, "cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
            stub(stubs, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
            stub(stubs, "cuMemFree_v2", JAVA_LONG);
            stub(stubs, "cuMemGetInfo_v2", ADDRESS, ADDRESS);
            stub(stubs, "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
            stub(stubs, "cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
            stub(stubs, "cuMemcpyDtoD_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
            stub(stubs, "cuMemsetD32_v2", JAVA_LONG, JAVA_INT, JAVA_LONG);
            stub(stubs, "cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
            stub(stubs, "cuGetErrorName", JAVA_INT, ADDRESS);
            stub(stubs, "cuStreamCreate", ADDRESS, JAVA_INT);
            stub(stubs, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
            stub(stubs, "cuStreamEndCapture", ADDRESS, ADDRESS);
            stub(stubs, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
            stub(stubs, "cuGraphLaunch", ADDRESS, ADDRESS);
            stub(stubs, "cuGraphExecDestroy", ADDRESS);
            stub(stubs, "cuGraphDestroy", ADDRESS);
            driver = lookup(stubs);
        }
        return driver;
    }

    /** The emulated {@code libcublas}: every function {@code Cublas} binds, by name. */
    public static synchronized SymbolLookup cublasLibrary() {
        if (cublas == null) {
            Map<String, MemorySegment> stubs = new HashMap<>();
            stub(stubs, "cublasCreate_v2", ADDRESS);
            stub(stubs, "cublasDestroy_v2", ADDRESS);
            stub(stubs, "cublasSetMathMode", ADDRESS, JAVA_INT);
            stub(stubs, "cublasGetVersion_v2", ADDRESS, ADDRESS);
            stub(stubs, "cublasSetStream_v2", ADDRESS, ADDRESS);
            stub(stubs, "cublasSetWorkspace_v2", ADDRESS, ADDRESS, JAVA_LONG);
            stub(stubs, "cublasGemmEx", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                    ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
            cublas = lookup(stubs);
        }
        return cublas;
    }

    /** The message of the last emulated call that failed, once (null when none is pending). */
    public static String takeLastErrorDetail() {
        String d = lastErrorDetail;
        lastErrorDetail = null;
        return d;
    }

    /** Sets the emulated GPU's memory size (tests of what happens when a model or a cache does not fit). */
    public static void setCapacity(long bytes) {
        mem().capacity(bytes);
    }

    public static long capacity() {
        return mem().capacity();
    }

    /** Bytes of emulated device memory in use (for tests of memory accounting). */
    public static long bytesInUse() {
        return memory == null ? 0 : memory.used();
    }

    /** The most bytes in use at once since the last {@link #resetPeak} (tests of a load's peak device memory). */
    public static long peakBytesInUse() {
        return memory == null ? 0 : memory.peak();
    }

    /** Starts a new peak measurement at the bytes in use now. */
    public static void resetPeak() {
        if (memory != null) memory.resetPeak();
    }

    private static final Map<String, LongAdder> launches = new ConcurrentHashMap<>();

    /** How many times the kernel {@code name} has run (each replay of a graph holding it counts): tests that a path was taken. */
    public static long launches(String name) {
        var n = launches.get(name);
        return n == null ? 0 : n.sum();
    }

    /**
     * Each kernel the emulator has a Java reference for, with its parameter signature ({@code p} pointer, {@code l}
     * long, {@code i} int, {@code f} float): a test holds these against the .cu source, since a signature that does not
     * match the kernel's parameters would make the emulator read past the launch's argument array.
     */
    public static Map<String, String> kernelSignatures() {
        Map<String, String> m = new java.util.TreeMap<>();
        ReferenceKernels.KERNELS.forEach((k, v) -> m.put(k, v.signature()));
        return m;
    }

    private static SymbolLookup lookup(Map<String, MemorySegment> stubs) {
        Map<String, MemorySegment> copy = Map.copyOf(stubs);
        return name -> Optional.ofNullable(copy.get(name));
    }

    /** Exports the static method of the same name, returning int, as a C function with these argument layouts. */
    private static void stub(Map<String, MemorySegment> stubs, String name, MemoryLayout... args) {
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, args);
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(CudaEmulator.class, name, fd.toMethodType());
            stubs.put(name, LINKER.upcallStub(target, fd, ARENA));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("emulator lacks " + name + fd.toMethodType(), e);
        }
    }

    /** Runs an emulated call: its code, or the CUDA error its exception stands for. Nothing may escape an upcall. */
    private static int guard(String call, java.util.function.IntSupplier body) {
        try {
            return body.getAsInt();
        } catch (Throwable t) {
            int code = switch (t) {
                case DeviceMemory.IllegalAddressException e -> ILLEGAL_ADDRESS;
                case IndexOutOfBoundsException e -> ILLEGAL_ADDRESS;
                case DeviceMemory.OutOfMemoryException e -> OUT_OF_MEMORY;
                case HostGemm.GemmRefused e -> e.status;
                case CaptureViolation e -> e.code;
                case NoSuchKernel e -> NOT_FOUND;
                case IllegalArgumentException e -> INVALID_VALUE;
                default -> LAUNCH_FAILED;
            };
            lastErrorDetail = call + ": " + t;
            return code;
        }
    }

    private static DeviceMemory mem() {
        DeviceMemory m = memory;
        if (m == null || !initialised) throw new IllegalStateException("cuInit was not called");
        return m;
    }

    private static MemorySegment out(MemorySegment p, long bytes) {
        if (p.address() == 0) throw new IllegalArgumentException("null output pointer");
        return p.reinterpret(bytes);
    }

    // ------------------------------------------------------------------ driver: device and context

    static int cuInit(int flags) {
        return guard("cuInit", () -> {
            if (flags != 0) throw new IllegalArgumentException("cuInit flags must be 0");
            synchronized (CudaEmulator.class) {
                if (memory == null) memory = new DeviceMemory(configuredCapacity());
                initialised = true;
            }
            return SUCCESS;
        });
    }

    private static long configuredCapacity() {
        String s = System.getProperty("tiller.cuda.emulator.memory", System.getenv().getOrDefault("TILLER_CUDA_EMULATOR_MEMORY", "16G")).trim();
        long unit = switch (Character.toUpperCase(s.charAt(s.length() - 1))) {
            case 'G' -> 1L << 30;
            case 'M' -> 1L << 20;
            case 'K' -> 1L << 10;
            default -> 1;
        };
        return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
    }

    static int cuDriverGetVersion(MemorySegment v) {
        return guard("cuDriverGetVersion", () -> {
            out(v, 4).set(JAVA_INT, 0, 13000);
            return SUCCESS;
        });
    }

    static int cuDeviceGetCount(MemorySegment n) {
        return guard("cuDeviceGetCount", () -> {
            mem();
            out(n, 4).set(JAVA_INT, 0, 1);
            return SUCCESS;
        });
    }

    static int cuDeviceGet(MemorySegment dev, int ordinal) {
        return guard("cuDeviceGet", () -> {
            mem();
            if (ordinal != 0) return INVALID_DEVICE;
            out(dev, 4).set(JAVA_INT, 0, 0);
            return SUCCESS;
        });
    }

    static int cuDeviceGetName(MemorySegment name, int len, int dev) {
        return guard("cuDeviceGetName", () -> {
            if (dev != 0) return INVALID_DEVICE;
            byte[] b = "Tiller CUDA emulator".getBytes(StandardCharsets.US_ASCII);
            MemorySegment s = out(name, len);
            int n = Math.min(b.length, len - 1);
            MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, n);
            s.set(ValueLayout.JAVA_BYTE, n, (byte) 0);
            return SUCCESS;
        });
    }

    static int cuDeviceGetAttribute(MemorySegment value, int attribute, int dev) {
        return guard("cuDeviceGetAttribute", () -> {
            if (dev != 0) return INVALID_DEVICE;
            int v = switch (attribute) {
                case 75 -> COMPUTE_CAPABILITY / 10;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
                case 76 -> COMPUTE_CAPABILITY % 10;   // ..._MINOR
                case 16 -> Runtime.getRuntime().availableProcessors(); // multiprocessor count
                case 1 -> 1024;                       // max threads per block
                default -> throw new IllegalArgumentException("attribute " + attribute + " is not emulated");
            };
            out(value, 4).set(JAVA_INT, 0, v);
            return SUCCESS;
        });
    }

    static int cuDeviceTotalMem_v2(MemorySegment bytes, int dev) {
        return guard("cuDeviceTotalMem", () -> {
            if (dev != 0) return INVALID_DEVICE;
            out(bytes, 8).set(JAVA_LONG, 0, mem().capacity());
            return SUCCESS;
        });
    }

    static int cuMemGetInfo_v2(MemorySegment free, MemorySegment total) {
        return guard("cuMemGetInfo", () -> {
            out(free, 8).set(JAVA_LONG, 0, mem().capacity() - mem().used());
            out(total, 8).set(JAVA_LONG, 0, mem().capacity());
            return SUCCESS;
        });
    }

    static int cuDevicePrimaryCtxRetain(MemorySegment ctx, int dev) {
        return guard("cuDevicePrimaryCtxRetain", () -> {
            mem();
            if (dev != 0) return INVALID_DEVICE;
            out(ctx, 8).set(ADDRESS, 0, CONTEXT);
            return SUCCESS;
        });
    }

    static int cuCtxSetCurrent(MemorySegment ctx) {
        return guard("cuCtxSetCurrent", () -> ctx.address() == CONTEXT.address() || ctx.address() == 0 ? SUCCESS : 201 /* INVALID_CONTEXT */);
    }

    static int cuCtxSynchronize() {
        return capturing != 0 ? CAPTURE_UNSUPPORTED : SUCCESS; // work runs when issued
    }

    // ------------------------------------------------------------------ driver: modules and kernels

    static int cuModuleLoadData(MemorySegment module, MemorySegment image) {
        return guard("cuModuleLoadData", () -> {
            MemorySegment head = image.reinterpret(16);
            if (head.get(ValueLayout.JAVA_INT_UNALIGNED, 0) != 0xBA55ED50) return INVALID_IMAGE;
            long size = 16 + head.get(ValueLayout.JAVA_LONG_UNALIGNED, 8);
            if (size > Integer.MAX_VALUE) return INVALID_IMAGE;
            byte[] bytes = image.reinterpret(size).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment handle = ARENA.allocate(16);
            modules.put(handle.address(), bytes);
            out(module, 8).set(ADDRESS, 0, handle);
            return SUCCESS;
        });
    }

    static int cuModuleGetFunction(MemorySegment fn, MemorySegment module, MemorySegment name) {
        return guard("cuModuleGetFunction", () -> {
            byte[] image = modules.get(module.address());
            if (image == null) return INVALID_HANDLE;
            String n = name.reinterpret(1024).getString(0);
            if (!ReferenceKernels.KERNELS.containsKey(n) || !contains(image, n)) {
                throw new NoSuchKernel(n + (contains(image, n) ? " is in the image but has no Java reference in the emulator" : " is not in the module image"));
            }
            MemorySegment handle = ARENA.allocate(16);
            functions.put(handle.address(), n);
            out(fn, 8).set(ADDRESS, 0, handle);
            return SUCCESS;
        });
    }

    private static final class NoSuchKernel extends RuntimeException {
        NoSuchKernel(String m) {
            super(m);
        }
    }

    private static boolean contains(byte[] image, String name) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.US_ASCII);
        outer:
        for (int i = 1; i + n.length <= image.length; i++) {
            if (image[i - 1] != 0 && image[i - 1] != '.') continue; // a whole symbol, not a suffix of another
            for (int j = 0; j < n.length; j++) if (image[i + j] != n[j]) continue outer;
            return true;
        }
        return false;
    }

    static int cuLaunchKernel(MemorySegment f, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, MemorySegment stream,
                              MemorySegment params, MemorySegment extra) {
        String name = functions.get(f.address());
        return guard("cuLaunchKernel(" + name + ")", () -> {
            if (name == null) return INVALID_HANDLE;
            if (gx < 1 || gy < 1 || gz < 1 || gy > 65535 || gz > 65535 || bx < 1 || by < 1 || bz < 1 || (long) bx * by * bz > 1024 || bz > 64
                    || sharedBytes < 0 || sharedBytes > 48 * 1024) {
                throw new IllegalArgumentException("launch configuration grid (" + gx + "," + gy + "," + gz + ") block (" + bx + "," + by + "," + bz
                        + ") shared " + sharedBytes);
            }
            if (extra.address() != 0) throw new IllegalArgumentException("'extra' launch parameters are not emulated");
            ReferenceKernels.Kernel k = ReferenceKernels.KERNELS.get(name);
            String sig = k.signature();
            MemorySegment argv = params.reinterpret(8L * sig.length());
            Object[] args = new Object[sig.length()];
            for (int i = 0; i < args.length; i++) {
                MemorySegment a = argv.getAtIndex(ADDRESS, i).reinterpret(8);
                args[i] = switch (sig.charAt(i)) {
                    case 'p', 'l' -> a.get(ValueLayout.JAVA_LONG_UNALIGNED, 0);
                    case 'i' -> a.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
                    case 'f' -> a.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
                    default -> throw new IllegalStateException(name + " signature " + sig);
                };
            }
            if (TRACE != null) trace("launch " + name + " grid " + gx + "," + gy + "," + gz + " block " + bx + "," + by + "," + bz + " shared "
                    + sharedBytes + " args " + traceArgs(sig, args) + (capturing != 0 ? " (captured)" : ""));
            ReferenceKernels.Launch launch = new ReferenceKernels.Launch(gx, gy, gz, bx, sharedBytes, args, mem());
            Runnable run = () -> {
                launches.computeIfAbsent(name, x -> new LongAdder()).increment();
                k.body().run(launch);
            };
            if (record(stream.address(), "cuLaunchKernel(" + name + ")")) recording.add(run);
            else run.run();
            return SUCCESS;
        });
    }

    static int cuGetErrorName(int error, MemorySegment str) {
        String n = ERROR_NAMES.get(error);
        if (n == null) return INVALID_VALUE;
        MemorySegment s = errorNameStrings.computeIfAbsent(error, e -> ARENA.allocateFrom(n));
        out(str, 8).set(ADDRESS, 0, s);
        return SUCCESS;
    }

    // ------------------------------------------------------------------ driver: memory

    static int cuMemAlloc_v2(MemorySegment ptr, long bytes) {
        return guard("cuMemAlloc", () -> {
            out(ptr, 8).set(JAVA_LONG, 0, mem().alloc(bytes));
            return SUCCESS;
        });
    }

    static int cuMemFree_v2(long ptr) {
        return guard("cuMemFree", () -> {
            if (ptr != 0) mem().free(ptr);
            return SUCCESS;
        });
    }

    static int cuMemcpyHtoD_v2(long dst, MemorySegment src, long bytes) {
        return guard("cuMemcpyHtoD", () -> {
            record(0, "cuMemcpyHtoD");
            if (TRACE != null) trace("copy HtoD " + mem().describe(dst) + " " + bytes);
            MemorySegment.copy(src.reinterpret(bytes), 0, mem().range(dst, bytes), 0, bytes);
            return SUCCESS;
        });
    }

    static int cuMemcpyDtoH_v2(MemorySegment dst, long src, long bytes) {
        return guard("cuMemcpyDtoH", () -> {
            record(0, "cuMemcpyDtoH");
            if (TRACE != null) trace("copy DtoH " + mem().describe(src) + " " + bytes);
            MemorySegment.copy(mem().range(src, bytes), 0, dst.reinterpret(bytes), 0, bytes);
            return SUCCESS;
        });
    }

    static int cuMemcpyDtoD_v2(long dst, long src, long bytes) {
        return guard("cuMemcpyDtoD", () -> {
            record(0, "cuMemcpyDtoD");
            if (TRACE != null) trace("copy DtoD " + mem().describe(dst) + " " + bytes);
            MemorySegment.copy(mem().range(src, bytes), 0, mem().range(dst, bytes), 0, bytes);
            return SUCCESS;
        });
    }

    static int cuMemsetD32_v2(long dst, int value, long count) {
        return guard("cuMemsetD32", () -> {
            record(0, "cuMemsetD32");
            MemorySegment d = mem().range(dst, 4 * count);
            for (long i = 0; i < count; i++) d.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, value);
            return SUCCESS;
        });
    }

    // ------------------------------------------------------------------ cuBLAS

    static int cublasCreate_v2(MemorySegment handle) {
        return guard("cublasCreate", () -> {
            mem();
            out(handle, 8).set(ADDRESS, 0, BLAS_HANDLE);
            return SUCCESS;
        });
    }

    static int cublasDestroy_v2(MemorySegment handle) {
        return handle.address() == BLAS_HANDLE.address() ? SUCCESS : 1 /* CUBLAS_STATUS_NOT_INITIALIZED */;
    }

    static int cublasSetMathMode(MemorySegment handle, int mode) {
        if (handle.address() != BLAS_HANDLE.address()) return 1;
        return mode == 0 ? SUCCESS : 15; // only the default (no TF32) math is emulated
    }

    static int cublasGetVersion_v2(MemorySegment handle, MemorySegment version) {
        return guard("cublasGetVersion", () -> {
            out(version, 4).set(JAVA_INT, 0, 130000);
            return SUCCESS;
        });
    }

    static int cublasGemmEx(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha, MemorySegment a, int aType,
                            int lda, MemorySegment b, int bType, int ldb, MemorySegment beta, MemorySegment c, int cType, int ldc, int computeType,
                            int algo) {
        try {
            if (handle.address() != BLAS_HANDLE.address()) return 1;
            float al = out(alpha, 4).get(JAVA_FLOAT, 0), be = out(beta, 4).get(JAVA_FLOAT, 0);
            long pa = a.address(), pb = b.address(), pc = c.address();
            if (TRACE != null) trace("gemm " + transa + "," + transb + " m " + m + " n " + n + " k " + k + " a " + mem().describe(pa) + " type " + aType + " lda " + lda
                    + " b " + mem().describe(pb) + " type " + bType + " ldb " + ldb + " c " + mem().describe(pc) + " type " + cType + " ldc " + ldc + " alpha " + al + " beta " + be);
            Runnable gemm = () -> HostGemm.gemm(mem(), transa, transb, m, n, k, al, pa, aType, lda, pb, bType, ldb, be, pc, cType, ldc, computeType);
            if (record(blasStream, "cublasGemmEx")) recording.add(gemm);
            else gemm.run();
            return SUCCESS;
        } catch (HostGemm.GemmRefused e) {
            lastErrorDetail = "cublasGemmEx: " + e.getMessage();
            return e.status;
        } catch (Throwable t) {
            lastErrorDetail = "cublasGemmEx: " + t;
            return 13; // CUBLAS_STATUS_EXECUTION_FAILED
        }
    }

    private CudaEmulator() {}
}
