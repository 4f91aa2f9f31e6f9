package dev.tiller.engine.cuda;

import dev.tiller.engine.api.Device;
import dev.tiller.engine.api.Model;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.batch.BatchEngine;
import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.batch.BatchResult;
import dev.tiller.engine.batch.RowSteering;
import dev.tiller.engine.batch.SteeringResolver;
import dev.tiller.engine.generate.Generation;
import dev.tiller.engine.generate.GenerationOptions;
import dev.tiller.engine.generate.Generator;
import dev.tiller.engine.generate.TokenListener;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.RowVectorAdd;
import dev.tiller.engine.sampling.SamplerConfig;
import dev.tiller.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code batch} on the GPU: every request decodes in one device forward with the others (KV caches on the device),
 * and gets what it gets alone, with and without its own steering vector. "host" runs per-request steering as host
 * hooks; "table" (the fused kernels' switch) as per-row device tables.
 */
class CudaBatchTest {
    static final Path SHARED = dev.tiller.testsupport.Shared.DIR;
    static final String[] PROMPTS = {"Once upon a time", "The little dog was very sad because", "Tom and Lily", "One day",
            "She wanted to", "The sun was"};
    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    static Model load(String mode) {
        if (mode.equals("table")) System.setProperty("tiller.cuda.fused", "true");
        try {
            return Model.load(SHARED.resolve("models/stories260K.gguf"), Device.CUDA);
        } finally {
            System.clearProperty("tiller.cuda.fused");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"host", "table"})
    void batchedEqualsAloneWithAndWithoutPerRequestSteering(String mode) {
        try (Model gpu = load(mode); Model cpu = Model.load(SHARED.resolve("models/stories260K.gguf"))) {
            int dim = gpu.config().dim();
            Random rnd = new Random(11);
            float[] dir = new float[dim], other = new float[dim];
            for (int i = 0; i < dim; i++) {
                dir[i] = (float) rnd.nextGaussian() * 0.5f;
                other[i] = (float) rnd.nextGaussian() * 0.5f;
            }
            // "vec:S" adds S * dir at blocks 1 and 3 resid_post; "two:S" adds S * dir then -S * other at block 2
            SteeringResolver resolver = (spec, model) -> {
                float s = Float.parseFloat(spec.substring(4));
                if (spec.startsWith("vec:")) {
                    return new RowSteering(Map.of(new HookPoint(HookSite.RESID_POST, 1), List.of(RowSteering.addVector(dir, s)),
                            new HookPoint(HookSite.RESID_POST, 3), List.of(RowSteering.addVector(dir, s))));
                }
                return new RowSteering(Map.of(new HookPoint(HookSite.RESID_POST, 2), List.of(RowSteering.addVector(dir, s),
                        RowSteering.addVector(other, -s))));
            };
            String[] steer = {null, "vec:2", "two:3", "vec:-2", null, "two:-3", "vec:4", null};
            List<BatchRequest> reqs = new ArrayList<>();
            for (int i = 0; i < steer.length; i++) {
                BatchRequest r = BatchRequest.ofPrompt("r" + i, PROMPTS[i % PROMPTS.length]).withMaxTokens(12 + 3 * (i % 3));
                r = i % 4 == 3 ? r.withTemperature(0.8f).withSeed(40L + i) : r.withTemperature(0f);
                if (steer[i] != null) r = r.withSteer(List.of(steer[i]));
                reqs.add(r);
            }
            List<BatchResult> got = new BatchEngine(gpu, BatchEngine.Options.defaults(256).withMaxConcurrent(5)).addResolver(resolver).runAll(reqs);
            List<BatchResult> onCpu = new BatchEngine(cpu, BatchEngine.Options.defaults(256).withMaxConcurrent(5)).addResolver(resolver).runAll(reqs);
            for (int i = 0; i < reqs.size(); i++) {
                BatchRequest r = reqs.get(i);
                Session s = gpu.newSession(256);
                if (steer[i] != null) {
                    float sc = Float.parseFloat(steer[i].substring(4));
                    var h = s.installHooks();
                    if (steer[i].startsWith("vec:")) {
                        for (int layer : new int[]{1, 3}) h.add(new HookPoint(HookSite.RESID_POST, layer), new RowVectorAdd(dir, sc));
                    } else {
                        h.add(new HookPoint(HookSite.RESID_POST, 2), new RowVectorAdd(dir, sc));
                        h.add(new HookPoint(HookSite.RESID_POST, 2), new RowVectorAdd(other, -sc));
                    }
                }
                GenerationOptions go = GenerationOptions.defaults().withMaxTokens(r.maxTokens())
                        .withSampler(SamplerConfig.defaults().withTemperature(r.temperature()).withSeed(r.seed() == null ? 0 : r.seed()));
                Generation g = new Generator(s).generate(r.prompt(), go, TokenListener.NONE);
                assertArrayEquals(g.tokens(), got.get(i).tokens(), mode + ": request " + r.id() + " (" + steer[i] + "), batched vs alone on the GPU");
                assertArrayEquals(onCpu.get(i).tokens(), got.get(i).tokens(), mode + ": request " + r.id() + ", GPU batch vs CPU batch");
            }
            long hostRuns = ((dev.tiller.engine.model.CudaTransformer) gpu.forwardPass()).hostHookRuns();
            if (mode.equals("table")) assertEquals(0, hostRuns, "per-request steering ran on the device");
            else assertTrue(hostRuns > 0, "per-request steering ran as host hooks");
            assertFalse(Arrays.equals(got.get(0).tokens(), got.get(6).tokens()) && Arrays.equals(got.get(1).tokens(), got.get(3).tokens()),
                    "steering changed some output");
        }
    }
}
