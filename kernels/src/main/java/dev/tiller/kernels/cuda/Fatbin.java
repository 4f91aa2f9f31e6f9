package dev.tiller.kernels.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The kernel image committed as a resource: {@code tiller_kernels.fatbin}, built by {@code kernels/src/main/cuda/build.sh}
 * with nvcc from {@code tiller_kernels.cu}, and {@code tiller_kernels.sources.sha256}, the hash of the sources it was
 * built from (first line) and the nvcc version (second line).
 */
public final class Fatbin {
    public static final String RESOURCE = "/dev/tiller/kernels/cuda/tiller_kernels.fatbin";
    public static final String HASH_RESOURCE = "/dev/tiller/kernels/cuda/tiller_kernels.sources.sha256";
    /** The first word of a fatbin container (fatbinary.h: FATBIN_MAGIC), little-endian. */
    public static final int MAGIC = 0xBA55ED50;

    /** Every kernel entry point the Java side launches; {@link CudaDevice} resolves each when it loads the module. */
    public static final List<String> KERNELS = List.of("f32_to_f16", "f32_to_bf16", "dequant_q8_0_f16", "dequant_q4_0_f16", "embed_gather",
            "add_inplace", "add_row_vector", "silu_mul", "gather_rows", "rmsnorm", "rmsnorm_backward", "silu_mul_backward", "rope",
            "kv_store", "attention", "attention_tiled", "attention_partial", "attention_merge", "add_rmsnorm",
            "qkv_rope_store", "silu_mul_store", "add_row_table", "repack_q8_0", "repack_q4_0", "gemv_f16", "gemv_bf16", "gemv_q8_0",
            "gemv_q4_0", "gemv_q5_0", "repack_q5_0", "dequant_q5_0_f16", "gemv_q4_1", "repack_q4_1", "dequant_q4_1_f16", "gemv_q5_1",
            "repack_q5_1", "dequant_q5_1_f16", "gemv_q4_k", "gemv_q5_k", "gemv_q6_k", "repack_q6_k", "dequant_q4_k_f16", "dequant_q5_k_f16", "dequant_q6_k_f16", "embed_gather_q", "argmax_rows", "pick_rows", "attention_backward", "widen_f32", "slices", "column_sums",
            "log_probs", "logprob_grad", "entropy_rows", "gelu_mul", "gelu_mul_store", "gelu_mul_backward", "scale_inplace", "softcap_inplace",
            "softcap_backward");

    public static byte[] bytes() {
        return read(RESOURCE);
    }

    /** The recorded hash of the kernel sources the committed fatbin was built from. */
    public static String recordedSourceHash() {
        return new String(read(HASH_RESOURCE), StandardCharsets.UTF_8).lines().findFirst().orElse("").trim();
    }

    /** Checks the container header: magic, version 1, and a header size that fits; returns the image. */
    public static byte[] validated() {
        byte[] b = bytes();
        check(b);
        return b;
    }

    static void check(byte[] b) {
        if (b.length < 16) throw new IllegalStateException("CUDA kernel image " + RESOURCE + " is truncated (" + b.length + " bytes)");
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int magic = bb.getInt(0);
        if (magic != MAGIC) {
            throw new IllegalStateException(String.format("CUDA kernel image %s is not a fatbin (magic 0x%08x)", RESOURCE, magic));
        }
        int version = Short.toUnsignedInt(bb.getShort(4)), headerSize = Short.toUnsignedInt(bb.getShort(6));
        long fatSize = bb.getLong(8);
        if (version != 1 || headerSize != 16 || headerSize + fatSize > b.length) {
            throw new IllegalStateException("CUDA kernel image " + RESOURCE + " has an unexpected header (version " + version
                    + ", header " + headerSize + ", payload " + fatSize + " of " + b.length + " bytes)");
        }
    }

    /** One image in the container: PTX or SASS (an ELF cubin) for one architecture (80 = sm_80). */
    public record Entry(String kind, int arch, long bytes) {}

    /** The images in a fatbin container, in order. */
    public static List<Entry> entries(byte[] b) {
        check(b);
        ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long end = 16 + bb.getLong(8);
        java.util.ArrayList<Entry> out = new java.util.ArrayList<>();
        long off = 16;
        while (off + 32 <= end) {
            int o = Math.toIntExact(off);
            int kind = Short.toUnsignedInt(bb.getShort(o));
            long headerSize = Integer.toUnsignedLong(bb.getInt(o + 4));
            long size = bb.getLong(o + 8);
            int arch = bb.getInt(o + 28);
            out.add(new Entry(kind == 1 ? "ptx" : kind == 2 ? "sass" : "kind" + kind, arch, size));
            if (headerSize == 0) break;
            off += headerSize + size;
        }
        return out;
    }

    private static byte[] read(String resource) {
        try (InputStream in = Fatbin.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("CUDA kernel resource " + resource + " is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Fatbin() {}
}
