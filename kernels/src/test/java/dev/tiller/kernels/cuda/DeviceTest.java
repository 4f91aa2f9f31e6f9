package dev.tiller.kernels.cuda;

import org.junit.jupiter.api.BeforeEach;

import java.util.Random;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What the kernel tests share: skipped, with the reason, where no CUDA device (or emulator) can be used; the device;
 * a seeded random source; random inputs, and copies to and from the device.
 */
abstract class DeviceTest {
    static final String UNAVAILABLE = CudaDevice.unavailableReason();
    CudaDevice dev;
    final Random rnd;

    DeviceTest(long seed) {
        this.rnd = new Random(seed);
    }

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
        dev = CudaDevice.open();
    }

    float[] random(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextGaussian();
        return a;
    }

    float[] download(long p, int n) {
        float[] a = new float[n];
        dev.copyToHost(a, 0, p, n);
        return a;
    }

    /** |expected - actual| &lt;= tol * max(1, |expected|) for every element. */
    static void close(double[] expected, float[] actual, double tol, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            org.junit.jupiter.api.Assertions.assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), what + " [" + i + "]");
        }
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    long uploadInts(int[] a) {
        long p = dev.alloc(4L * Math.max(1, a.length));
        if (a.length > 0) dev.copyToDevice(p, a, 0, a.length);
        return p;
    }
}
