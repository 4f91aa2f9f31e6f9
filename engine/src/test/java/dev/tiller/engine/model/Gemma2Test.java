package dev.tiller.engine.model;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.loader.GGMLType;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.Tensor;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.gguf.GGUFWriter;
import dev.tiller.loader.hf.HFModelFolder;
import dev.tiller.loader.safetensors.SafetensorsWriter;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.synthetic.SyntheticModel;
import dev.tiller.testsupport.Shared;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * gemma2, the architecture added as the proof of docs/architectures.md: the engine's forward on the GGUF and the HF copy
 * of one random model against {@link Gemma2Reference} (float64, from HF's formulas), every hook point, steering at one,
 * and the GPU's forward against the CPU's.
 */
class Gemma2Test {
    /** 12 tokens: past the tiny preset's window of 4, so the sliding layers see less than the global one. */
    static final int[] TOKENS = {5, 17, 99, 3, 250, 42, 7, 1000, 12, 64, 300, 2};

    @TempDir
    static Path tmp;
    static Path gguf, hf;

    @BeforeAll
    static void write() {
        gguf = tmp.resolve("gemma2.gguf");
        hf = tmp.resolve("gemma2-hf");
        SyntheticModel m = SyntheticModel.preset("tiny-gemma2").withSeed(5);
        Path tok = Shared.DIR.resolve("tokenizers/smollm2");
        m.writeGguf(gguf, GGMLType.F32, tok);
        m.writeHuggingFace(hf, GGMLType.F32, tok);
    }

    @Test
    void configReadsGemma2Keys() {
        for (Path p : List.of(gguf, hf)) {
            try (Model m = Model.load(p)) {
                ModelConfig c = m.config();
                assertSame(Architectures.GEMMA2, c.architecture(), p.toString());
                assertEquals(4, c.slidingWindow());
                assertEquals(0.05f, c.attnSoftcap(), 1e-7f);
                assertEquals(0.2f, c.finalSoftcap(), 1e-7f);
                assertEquals(0.25f, c.queryScale(), 1e-7f, "1 / sqrt(query_pre_attn_scalar 16), not 1 / sqrt(head_dim 32)");
                assertEquals(8f, c.embedScale());
                assertTrue(c.ropeNeox());
                assertEquals(p == hf ? 1f : 0f, c.normWeightOffset(), "HF stores w for x·(1+w); GGUF stores 1+w");
                assertSame(m.weights().tokenEmbedding(), m.weights().output(), "tied embeddings");
                assertNotNull(m.weights().layers()[0].postAttnNorm());
                assertNotNull(m.weights().layers()[0].postFfwNorm());
            }
        }
    }

    @Test
    void ggufAndHfMatchTheFloat64Reference() throws Exception {
        Gemma2Reference ref = new Gemma2Reference(hf);
        try {
            double[][] want = ref.forward(TOKENS);
            for (Path p : List.of(gguf, hf)) {
                try (Model m = Model.load(p)) {
                    ArchitectureTest.assertClose(want, m.newSession().prefillAllLogits(TOKENS), m.config().vocabSize(), "gemma2 " + p.getFileName());
                    // decoding one token at a time (the cache path) gives the same last logits
                    Session s = m.newSession();
                    float[] last = null;
                    for (int t : TOKENS) last = s.decode(t);
                    ArchitectureTest.assertClose(new double[][]{want[TOKENS.length - 1]}, last, m.config().vocabSize(), "gemma2 decode " + p.getFileName());
                }
            }
        } finally {
            ref.close();
        }
    }

    /** Each gemma2 feature changes the logits by more than the tolerance, so the agreement above tests all of them. */
    @Test
    void eachFeatureMatters() throws Exception {
        Gemma2Reference ref = new Gemma2Reference(hf);
        try (Model m = Model.load(gguf)) {
            float[] got = m.newSession().prefillAllLogits(TOKENS);
            int vocab = m.config().vocabSize();
            List<Runnable> breakOne = List.of(() -> ref.attnCap = 0, () -> ref.finalCap = 0, () -> ref.slidingWindow = false);
            for (Runnable b : breakOne) {
                Gemma2Reference r = new Gemma2Reference(hf);
                try {
                    ref.attnCap = r.attnCap;
                    ref.finalCap = r.finalCap;
                    ref.slidingWindow = true;
                    b.run();
                    double[][] want = ref.forward(TOKENS);
                    assertThrows(AssertionError.class, () -> ArchitectureTest.assertClose(want, got, vocab, "without a feature"));
                } finally {
                    r.close();
                }
            }
        } finally {
            ref.close();
        }
    }

    @Test
    void everyHookPointSeesWhatTheReferenceComputes() throws Exception {
        Gemma2Reference ref = new Gemma2Reference(hf);
        try (Model m = Model.load(hf)) {
            ref.forward(TOKENS);
            Session s = m.newSession();
            Hooks hooks = s.installHooks();
            Map<String, List<float[]>> seen = new HashMap<>();
            for (String name : ref.acts.keySet()) {
                hooks.add(name, a -> {
                    List<float[]> rows = seen.computeIfAbsent(name, k -> new ArrayList<>());
                    for (int t = 0; t < a.tokens(); t++) rows.add(a.copyRow(t));
                });
            }
            s.prefillAllLogits(TOKENS);
            assertEquals(3 + 5 * 3, ref.acts.size(), ref.acts.keySet().toString());
            for (var e : ref.acts.entrySet()) {
                List<float[]> rows = seen.get(e.getKey());
                assertNotNull(rows, e.getKey() + " never ran");
                assertEquals(TOKENS.length, rows.size(), e.getKey());
                double[][] want = e.getValue();
                float[] flat = new float[want.length * want[0].length];
                for (int t = 0; t < rows.size(); t++) System.arraycopy(rows.get(t), 0, flat, t * want[0].length, want[0].length);
                ArchitectureTest.assertClose(want, flat, want[0].length, e.getKey());
            }
        } finally {
            ref.close();
        }
    }

    /** A vector added at a hook point (what a steering vector installs) moves the logits as it moves the reference's. */
    @Test
    void steeringAtHookPointsMatchesTheReference() throws Exception {
        try (Model m = Model.load(gguf)) {
            int dim = m.config().dim();
            float[] v = new float[dim];
            double[] vd = new double[dim];
            for (int i = 0; i < dim; i++) vd[i] = v[i] = (float) Math.sin(i) * 2f;
            for (String point : List.of("blocks.0.hook_resid_pre", "blocks.1.hook_attn_out", "blocks.2.hook_resid_mid",
                    "blocks.0.hook_mlp_out", "blocks.1.hook_resid_post")) {
                Gemma2Reference ref = new Gemma2Reference(hf).steer(point, vd);
                try {
                    double[][] want = ref.forward(TOKENS);
                    Session s = m.newSession();
                    s.installHooks().add(HookPoint.parse(point), new RowVectorAdd(v, 1f));
                    ArchitectureTest.assertClose(want, s.prefillAllLogits(TOKENS), m.config().vocabSize(), "steered at " + point);
                } finally {
                    ref.close();
                }
            }
        }
    }

    /**
     * gemma2 on the GPU (emulator in CI): every piece of the block (scaled embeddings, sandwich norms, GeGLU, score and
     * logit soft-caps, the window on even layers) gives the CPU's prompt logits, and greedy decoding to position 80
     * (past the window, and past 64 positions, where decode attention splits the context into chunks) the CPU's tokens.
     */
    @Test
    void theGpuGivesTheCpusLogitsAndTokens() {
        String why = dev.tiller.kernels.cuda.CudaDevice.unavailableReason();
        org.junit.jupiter.api.Assumptions.assumeTrue(why == null, () -> "skipped, no CUDA device: " + why);
        try (Model cpu = Model.load(gguf); Model gpu = Model.load(gguf, Device.CUDA)) {
            float[] a = cpu.newSession().prefillAllLogits(TOKENS), b = gpu.newSession().prefillAllLogits(TOKENS);
            double err = 0, scale = 1;
            for (int i = 0; i < a.length; i++) {
                err = Math.max(err, Math.abs(a[i] - b[i]));
                scale = Math.max(scale, Math.abs(a[i]));
            }
            assertTrue(err <= 1e-4 * scale, "prompt logits differ by " + err);
            var sc = cpu.newSession(128);
            var sg = gpu.newSession(128);
            float[] lc = sc.prefill(TOKENS), lg = sg.prefill(TOKENS);
            for (int step = 0; step < 70; step++) {
                int tc = dev.tiller.engine.sampling.Sampler.argmax(lc, lc.length), tg = dev.tiller.engine.sampling.Sampler.argmax(lg, lg.length);
                assertEquals(tc, tg, "greedy token at position " + (TOKENS.length + step));
                lc = sc.decode(tc);
                lg = sg.decode(tg);
            }
        }
    }

    /** An HF folder without one of gemma2's sandwich norms: the error names the folder and the tensor. */
    @Test
    void missingSandwichNormIsNamed() throws Exception {
        Path broken = Files.createDirectories(tmp.resolve("gemma2-broken"));
        try (var files = Files.list(hf)) {
            for (Path p : files.toList()) if (!p.getFileName().toString().endsWith(".safetensors")) Files.copy(p, broken.resolve(p.getFileName()));
        }
        SafetensorsWriter w = new SafetensorsWriter();
        try (HFModelFolder f = HFModelFolder.open(hf)) {
            for (Tensor t : f.tensors().values()) {
                if (t.name().equals("model.layers.1.post_feedforward_layernorm.weight")) continue;
                long[] shape = new long[t.dims()];
                for (int i = 0; i < shape.length; i++) shape[i] = t.ne(shape.length - 1 - i);
                w.add(t.name(), t.type(), shape, t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
            w.write(broken.resolve("model.safetensors"));
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(broken).close());
        assertTrue(e.getMessage().contains("blk.1.post_ffw_norm.weight") && e.getMessage().contains(broken.toString()), e.getMessage());
    }

    /** A sandwich norm of the wrong width in GGUF: the error names the tensor, its shape and the expected one. */
    @Test
    void wrongShapedSandwichNormIsNamed() {
        Path bad = tmp.resolve("gemma2-wrong.gguf");
        try (GGUFFile f = GGUFFile.open(gguf)) {
            GGUFWriter w = new GGUFWriter();
            f.metadata().asMap().forEach(w::put);
            for (Tensor t : f.tensors().values()) {
                if (t.name().equals("blk.2.post_attention_norm.weight")) {
                    w.addTensor(new Tensor(t.name(), GGMLType.F32, new long[]{32}, MemorySegment.ofArray(new byte[128]), "test"));
                } else {
                    w.addTensor(t);
                }
            }
            w.write(bad);
        }
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(bad).close());
        assertTrue(e.getMessage().contains("blk.2.post_attention_norm.weight") && e.getMessage().contains("expected [64]"), e.getMessage());
    }

    /** An HF folder whose model_type no description claims: the error names config.json and the value. */
    @Test
    void unknownModelTypeIsNamed() throws Exception {
        Path other = Files.createDirectories(tmp.resolve("not-gemma"));
        try (var files = Files.list(hf)) {
            for (Path p : files.toList()) Files.copy(p, other.resolve(p.getFileName()));
        }
        Path config = other.resolve("config.json");
        String original = Files.readString(config);
        Files.writeString(config, original.replace("\"model_type\" : \"gemma2\"", "\"model_type\" : \"gemma3\""));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Model.load(other).close());
        assertTrue(e.getMessage().contains("gemma3") && e.getMessage().contains("config.json") && e.getMessage().contains("model_type"), e.getMessage());
        // an activation the description does not have is named too, not run as GELU
        Files.writeString(config, original.replace("\"hidden_activation\" : \"gelu_pytorch_tanh\"", "\"hidden_activation\" : \"relu\""));
        e = assertThrows(ModelFormatException.class, () -> Model.load(other).close());
        assertTrue(e.getMessage().contains("hidden_activation") && e.getMessage().contains("relu"), e.getMessage());
    }
}
