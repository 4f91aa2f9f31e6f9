package dev.tiller.kernels.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few CUDA driver API functions the backend uses, called through {@code java.lang.foreign} on
 * {@code libcuda.so.1} (part of the NVIDIA driver, so no toolkit is needed at run time). Device pointers
 * ({@code CUdeviceptr}) are Java longs. Every call checks its {@code CUresult}.
 */
public final class CudaDriver {
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

    private static final Linker LINKER = Linker.nativeLinker();
    private final CudaLibraries.Loaded lib;
    private final MethodHandle cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
            cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuCtxSynchronize, cuModuleLoadData, cuModuleGetFunction,
            cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyHtoDHeap, cuMemcpyDtoH, cuMemcpyDtoHHeap, cuMemcpyDtoD, cuMemsetD32,
            cuLaunchKernel, cuGetErrorName, cuStreamCreate, cuStreamBeginCapture, cuStreamEndCapture,
            cuGraphInstantiate, cuGraphLaunch, cuGraphExecDestroy, cuGraphDestroy, cuMemGetInfo;

    public CudaDriver(CudaLibraries.Loaded lib) {
        this.lib = lib;
        SymbolLookup l = lib.lookup();
        cuInit = h(l, "cuInit", JAVA_INT);
        cuDriverGetVersion = h(l, "cuDriverGetVersion", ADDRESS);
        cuDeviceGetCount = h(l, "cuDeviceGetCount", ADDRESS);
        cuDeviceGet = h(l, "cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = h(l, "cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = h(l, "cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = h(l, "cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = h(l, "cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuCtxSetCurrent = h(l, "cuCtxSetCurrent", ADDRESS);
        cuCtxSynchronize = h(l, "cuCtxSynchronize");
        cuModuleLoadData = h(l, "cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = h(l, "cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        cuMemAlloc = h(l, "cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = h(l, "cuMemFree_v2", JAVA_LONG);
        cuMemGetInfo = h(l, "cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuMemcpyHtoD = h(l, "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoH = h(l, "cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        // heap arrays are passed without a copy: "critical" downcalls may take on-heap segments
        // (not for the emulator: a critical downcall must not call back into Java, and its functions are upcalls)
        cuMemcpyHtoDHeap = h(l, !lib.emulated(), "cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
        cuMemcpyDtoHHeap = h(l, !lib.emulated(), "cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
        cuMemcpyDtoD = h(l, "cuMemcpyDtoD_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemsetD32 = h(l, "cuMemsetD32_v2", JAVA_LONG, JAVA_INT, JAVA_LONG);
        cuLaunchKernel = h(l, "cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS,
                ADDRESS, ADDRESS);
        cuGetErrorName = h(l, "cuGetErrorName", JAVA_INT, ADDRESS);
        // streams and graph capture (decode replays one captured graph per step instead of ~15 launches per block)
        cuStreamCreate = h(l, "cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamBeginCapture = h(l, "cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
        cuStreamEndCapture = h(l, "cuStreamEndCapture", ADDRESS, ADDRESS);
        cuGraphInstantiate = h(l, "cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
        cuGraphLaunch = h(l, "cuGraphLaunch", ADDRESS, ADDRESS);
        cuGraphExecDestroy = h(l, "cuGraphExecDestroy", ADDRESS);
        cuGraphDestroy = h(l, "cuGraphDestroy", ADDRESS);
    }

    /**
     * Loads {@code libcuda.so.1}, or the host emulator when {@link CudaLibraries#emulatorSelected()}; throws
     * {@link CudaUnavailableException} with the places searched when absent.
     */
    public static CudaDriver load() {
        return CudaLibraries.emulatorSelected() ? new CudaDriver(CudaLibraries.emulatedDriver()) : loadNative();
    }

    /** Loads the GPU driver's {@code libcuda.so.1}, whatever the emulator switch says. */
    public static CudaDriver loadNative() {
        return new CudaDriver(CudaLibraries.load("CUDA driver library", CudaLibraries.DRIVER_NAMES, CudaLibraries.DRIVER_SYMBOLS,
                Arena.global(), System.getenv()));
    }

    public String libraryLocation() {
        return lib.location();
    }

    /** Whether this is the host emulator rather than a GPU's driver. */
    public boolean emulated() {
        return lib.emulated();
    }

    private static MethodHandle h(SymbolLookup l, String name, MemoryLayout... args) {
        return h(l, false, name, args);
    }

    private static MethodHandle h(SymbolLookup l, boolean heap, String name, MemoryLayout... args) {
        MemorySegment sym = l.find(name).orElseThrow(() -> new CudaUnavailableException("the CUDA driver library lacks " + name
                + " (driver too old?)"));
        FunctionDescriptor fd = FunctionDescriptor.of(JAVA_INT, args);
        return heap ? LINKER.downcallHandle(sym, fd, Linker.Option.critical(true)) : LINKER.downcallHandle(sym, fd);
    }

    void check(String call, int rc) {
        if (rc != 0) throw new CudaException(call, rc, CudaLibraries.withEmulatorDetail(lib, errorName(rc)));
    }

    String errorName(int rc) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) cuGetErrorName.invokeExact(rc, p);
            if (r != 0) return "CUDA_ERROR_" + rc;
            return p.get(ADDRESS, 0).reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "CUDA_ERROR_" + rc;
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    public void init() {
        try {
            int rc = (int) cuInit.invokeExact(0);
            if (rc != 0) {
                throw new CudaUnavailableException("CUDA is not available: cuInit failed with " + errorName(rc) + " (" + rc
                        + "; no GPU, or the driver is not loaded). Use --device cpu");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public int driverVersion() {
        return intOut(seg -> (int) cuDriverGetVersion.invokeExact(seg), "cuDriverGetVersion");
    }

    public int deviceCount() {
        return intOut(seg -> (int) cuDeviceGetCount.invokeExact(seg), "cuDeviceGetCount");
    }

    public int device(int ordinal) {
        return intOut(seg -> (int) cuDeviceGet.invokeExact(seg, ordinal), "cuDeviceGet");
    }

    public int attribute(int attr, int device) {
        return intOut(seg -> (int) cuDeviceGetAttribute.invokeExact(seg, attr, device), "cuDeviceGetAttribute");
    }

    public String deviceName(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(256);
            check("cuDeviceGetName", (int) cuDeviceGetName.invokeExact(s, 256, device));
            return s.getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_LONG);
            check("cuDeviceTotalMem", (int) cuDeviceTotalMem.invokeExact(s, device));
            return s.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** The device's primary context (shared with any other user of the device in this process). */
    public MemorySegment primaryContext(int device) {
        return addressOut(seg -> (int) cuDevicePrimaryCtxRetain.invokeExact(seg, device), "cuDevicePrimaryCtxRetain");
    }

    /** Contexts are current per thread: every thread that calls CUDA first makes the context current. */
    public void setCurrent(MemorySegment ctx) {
        try {
            check("cuCtxSetCurrent", (int) cuCtxSetCurrent.invokeExact(ctx));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void synchronize() {
        try {
            check("cuCtxSynchronize", (int) cuCtxSynchronize.invokeExact());
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Loads a fatbin / cubin / PTX image; the image must be in native memory. */
    public MemorySegment loadModule(MemorySegment image) {
        return addressOut(seg -> (int) cuModuleLoadData.invokeExact(seg, image), "cuModuleLoadData");
    }

    public MemorySegment function(MemorySegment module, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ADDRESS);
            check("cuModuleGetFunction(" + name + ")", (int) cuModuleGetFunction.invokeExact(s, module, a.allocateFrom(name)));
            return s.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_LONG);
            check("cuMemAlloc(" + bytes + " bytes)", (int) cuMemAlloc.invokeExact(s, Math.max(bytes, 4L)));
            return s.get(JAVA_LONG, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {free, total} bytes of device memory in the current context. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(JAVA_LONG), t = a.allocate(JAVA_LONG);
            check("cuMemGetInfo", (int) cuMemGetInfo.invokeExact(f, t));
            return new long[]{f.get(JAVA_LONG, 0), t.get(JAVA_LONG, 0)};
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    public void free(long ptr) {
        try {
            check("cuMemFree", (int) cuMemFree.invokeExact(ptr));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Copies host memory (native, or a heap array segment) to the device. */
    public void copyToDevice(long dst, MemorySegment src, long bytes) {
        if (bytes == 0) return;
        try {
            int rc;
            if (src.isNative()) rc = (int) cuMemcpyHtoD.invokeExact(dst, src, bytes);
            else if (!lib.emulated()) rc = (int) cuMemcpyHtoDHeap.invokeExact(dst, src, bytes);
            else {
                try (Arena a = Arena.ofConfined()) { // the emulator's functions are upcalls: pass heap data through native memory
                    MemorySegment staged = a.allocate(bytes);
                    MemorySegment.copy(src, 0, staged, 0, bytes);
                    rc = (int) cuMemcpyHtoDHeap.invokeExact(dst, staged, bytes);
                }
            }
            check("cuMemcpyHtoD", rc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyToHost(MemorySegment dst, long src, long bytes) {
        if (bytes == 0) return;
        try {
            int rc;
            if (dst.isNative()) rc = (int) cuMemcpyDtoH.invokeExact(dst, src, bytes);
            else if (!lib.emulated()) rc = (int) cuMemcpyDtoHHeap.invokeExact(dst, src, bytes);
            else {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment staged = a.allocate(bytes);
                    rc = (int) cuMemcpyDtoHHeap.invokeExact(staged, src, bytes);
                    if (rc == 0) MemorySegment.copy(staged, 0, dst, 0, bytes);
                }
            }
            check("cuMemcpyDtoH", rc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void copyDeviceToDevice(long dst, long src, long bytes) {
        if (bytes == 0) return;
        try {
            check("cuMemcpyDtoD", (int) cuMemcpyDtoD.invokeExact(dst, src, bytes));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void memsetD32(long dst, int value, long count) {
        try {
            check("cuMemsetD32", (int) cuMemsetD32.invokeExact(dst, value, count));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void launch(MemorySegment fn, String name, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, MemorySegment params) {
        launch(fn, name, gx, gy, gz, bx, by, bz, sharedBytes, MemorySegment.NULL, params);
    }

    /** Launches on {@code stream} (NULL: the legacy default stream, which orders with every blocking stream). */
    public void launch(MemorySegment fn, String name, int gx, int gy, int gz, int bx, int by, int bz, int sharedBytes, MemorySegment stream,
                       MemorySegment params) {
        try {
            int rc = (int) cuLaunchKernel.invokeExact(fn, gx, gy, gz, bx, by, bz, sharedBytes, stream, params, MemorySegment.NULL);
            check("cuLaunchKernel(" + name + ")", rc);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A blocking stream (flags 0): it orders with the legacy default stream, so plain copies before and after it need no events. */
    public MemorySegment createStream() {
        return addressOut(seg -> (int) cuStreamCreate.invokeExact(seg, 0), "cuStreamCreate");
    }

    /** CU_STREAM_CAPTURE_MODE_RELAXED: other threads may keep calling the driver (e.g. a Cleaner freeing memory). */
    public void beginCapture(MemorySegment stream) {
        try {
            check("cuStreamBeginCapture", (int) cuStreamBeginCapture.invokeExact(stream, 2));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Ends the capture; returns the graph. */
    public MemorySegment endCapture(MemorySegment stream) {
        return addressOut(seg -> (int) cuStreamEndCapture.invokeExact(stream, seg), "cuStreamEndCapture");
    }

    public MemorySegment instantiate(MemorySegment graph) {
        return addressOut(seg -> (int) cuGraphInstantiate.invokeExact(seg, graph, 0L), "cuGraphInstantiate");
    }

    public void launchGraph(MemorySegment exec, MemorySegment stream) {
        try {
            check("cuGraphLaunch", (int) cuGraphLaunch.invokeExact(exec, stream));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public void destroyGraph(MemorySegment graph, MemorySegment exec) {
        try {
            if (exec != null && exec.address() != 0) check("cuGraphExecDestroy", (int) cuGraphExecDestroy.invokeExact(exec));
            if (graph != null && graph.address() != 0) check("cuGraphDestroy", (int) cuGraphDestroy.invokeExact(graph));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Calls a function whose result is a pointer written through its first argument. */
    private MemorySegment addressOut(IntCall c, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(ADDRESS);
            check(name, c.call(s));
            return s.get(ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    @FunctionalInterface
    private interface IntCall {
        int call(MemorySegment out) throws Throwable;
    }

    private int intOut(IntCall c, String name) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(JAVA_INT);
            check(name, c.call(s));
            return s.get(JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}
