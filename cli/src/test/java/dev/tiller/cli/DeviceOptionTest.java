package dev.tiller.cli;

import dev.tiller.engine.api.Device;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code --device}: cpu by default; cuda without a GPU is a one-line error, not a crash. */
class DeviceOptionTest {
    static final Path SHARED = Shared.DIR;

    static int run(StringWriter err, String... args) {
        var cl = Tiller.commandLine();
        cl.setErr(new PrintWriter(err, true));
        cl.setOut(new PrintWriter(new StringWriter(), true));
        return cl.execute(args);
    }

    @Test
    void deviceNamesParse() {
        assertEquals(Device.CPU, Device.parse("cpu"));
        assertEquals(Device.CUDA, Device.parse("CUDA"));
        var e = assertThrows(IllegalArgumentException.class, () -> Device.parse("tpu"));
        assertTrue(e.getMessage().contains("cpu or cuda"), e.getMessage());
    }

    @Test
    void cudaWithoutAGpuIsAClearError() {
        assumeTrue(!CudaDevice.available(), "this machine has a CUDA device");
        StringWriter err = new StringWriter();
        int code = run(err, "generate", "-m", SHARED.resolve("models/stories260K.gguf").toString(), "-p", "Hi", "-n", "2", "--device", "cuda");
        assertNotEquals(0, code);
        String msg = err.toString();
        assertTrue(msg.startsWith("error: CUDA is not available"), msg);
        assertTrue(msg.contains("--device cpu"), msg);
        assertFalse(msg.contains("Exception") || msg.contains("\tat "), "no stack trace: " + msg);
    }

    @Test
    void anUnknownDeviceIsAClearError() {
        StringWriter err = new StringWriter();
        int code = run(err, "generate", "-m", SHARED.resolve("models/stories260K.gguf").toString(), "-p", "Hi", "--device", "tpu");
        assertNotEquals(0, code);
        assertTrue(err.toString().startsWith("error: unknown device 'tpu'"), err.toString());
    }
}
