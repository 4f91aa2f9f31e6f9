package dev.tiller.engine.model;

import dev.tiller.engine.api.Model;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

/** A model file that parses but does not describe a runnable model gets an error naming the key or tensor at fault. */
class BadModelTest {
    static final Path STORIES = Shared.DIR.resolve("models/stories260K.gguf");

    @TempDir
    Path tmp;

    /** Copies stories260K, dropping metadata keys / tensors the filter rejects and replacing one tensor if asked. */
    Path copy(Predicate<String> keepKey, Predicate<String> keepTensor, Tensor replacement) {
        Path out = tmp.resolve("bad.gguf");
        try (GGUFFile f = GGUFFile.open(STORIES)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().asMap().forEach((k, v) -> {
                if (keepKey.test(k)) w.put(k, v);
            });
            for (Tensor t : f.tensors().values()) {
                if (replacement != null && t.name().equals(replacement.name())) w.addTensor(replacement);
                else if (keepTensor.test(t.name())) w.addTensor(t);
            }
            w.write(out);
        }
        return out;
    }

    String loadError(Path p) {
        return assertThrows(ModelFormatException.class, () -> Model.load(p).close()).getMessage();
    }

    @Test
    void missingConfigKeyIsNamed() {
        String msg = loadError(copy(k -> !k.equals("llama.embedding_length"), t -> true, null));
        assertTrue(msg.contains("llama.embedding_length"), msg);
    }

    @Test
    void missingTensorIsNamed() {
        String msg = loadError(copy(k -> true, t -> !t.equals("blk.3.ffn_up.weight"), null));
        assertTrue(msg.contains("blk.3.ffn_up.weight"), msg);
    }

    @Test
    void wrongShapeIsNamed() {
        byte[] data = new byte[64 * 100 * 4];
        Tensor wrong = new Tensor("blk.1.attn_q.weight", GGMLType.F32, new long[]{64, 100}, java.lang.foreign.MemorySegment.ofArray(data), "test");
        String msg = loadError(copy(k -> true, t -> true, wrong));
        assertTrue(msg.contains("blk.1.attn_q.weight") && msg.contains("[64, 100]") && msg.contains("expected [64, 64]"), msg);
    }

    @Test
    void unsupportedArchitectureIsNamed() {
        Path p = copy(k -> true, t -> true, null);
        Path out = tmp.resolve("arch.gguf");
        try (GGUFFile f = GGUFFile.open(p)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().asMap().forEach(w::put);
            w.putString("general.architecture", "mamba");
            f.tensors().values().forEach(w::addTensor);
            w.write(out);
        }
        String msg = loadError(out);
        assertTrue(msg.contains("mamba"), msg);
    }

    @Test
    void tensorTypeWithoutKernelsIsNamed() {
        // IQ2_XXS is a valid ggml type the engine has no kernels for: the error names the tensor and the type
        byte[] data = new byte[(int) GGMLType.IQ2_XXS.byteSize(256L * 64)];
        Tensor t = new Tensor("blk.0.attn_q.weight", GGMLType.IQ2_XXS, new long[]{256, 64}, java.lang.foreign.MemorySegment.ofArray(data), "test");
        var e = assertThrows(RuntimeException.class, () -> new dev.tiller.kernels.WeightMatrix(t));
        assertTrue(e.getMessage().contains("blk.0.attn_q.weight") && e.getMessage().contains("IQ2_XXS"), e.getMessage());
    }
}
