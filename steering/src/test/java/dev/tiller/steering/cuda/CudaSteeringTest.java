package dev.tiller.steering.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.kernels.cuda.CudaDevice;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.controlvector.ControlVectorSteering;
import dev.tiller.testsupport.Logits;
import dev.tiller.testsupport.Reference;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** llama.cpp's steered reference run (dog_happy_mean_0.3), on the GPU: identical greedy tokens. Skipped without CUDA. */
class CudaSteeringTest {
    static final Path SHARED = Shared.DIR;
    static final Path REF = SHARED.resolve("reference/stories260K");
    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    /** host: the control vector's own hooks (copied to the host); device: the same directions as RowVectorAdd hooks. */
    @ParameterizedTest
    @ValueSource(strings = {"host", "device"})
    void steeredGreedyRunMatchesLlamaCpp(String where) throws Exception {
        JsonNode ref = new ObjectMapper().readTree(REF.resolve("dog_happy_mean_0.3.json").toFile());
        int[] prompt = Reference.ints(ref.get("prompt_tokens")), expected = Reference.ints(ref.get("greedy_tokens"));
        try (Model model = Model.load(SHARED.resolve("models/stories260K.gguf"), Device.CUDA)) {
            Session s = model.newSession();
            ControlVector cv = ControlVector.sum(List.of(ControlVectorFile.read(REF.resolve("happy_mean.gguf"))), List.of(0.3f));
            Hooks hooks = s.installHooks();
            int layers = model.config().layers();
            if (where.equals("host")) {
                ControlVectorSteering.install(hooks, cv, model.config().dim(), layers, 1, layers - 1);
            } else {
                for (var e : cv.directions().entrySet()) {
                    if (e.getKey() >= 1 && e.getKey() < layers) hooks.add(new HookPoint(HookSite.RESID_POST, e.getKey()), new RowVectorAdd(e.getValue(), 1f));
                }
            }
            int vocab = model.config().vocabSize();
            float[] logits = s.prefill(prompt);
            for (int i = 0; i < expected.length; i++) {
                int next = Logits.argmax(logits, vocab);
                assertEquals(expected[i], next, "greedy token " + i + " (" + where + " steering)");
                logits = s.decode(next);
            }
        }
    }
}
