package dev.tiller.cli;

import dev.tiller.kernels.cuda.CudaDevice;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every command that runs forward passes takes {@code --device cuda} and prints what it prints on the CPU: generate
 * (chat), batch, eval, extract, lens, train (under the emulator in {@code mvn verify}; on a GPU in the GPU check).
 */
class GpuCommandsTest {
    static final Path SHARED = dev.tiller.testsupport.Shared.DIR;
    static final Path STORIES = SHARED.resolve("models/stories260K.gguf");
    static final String UNAVAILABLE = CudaDevice.unavailableReason();

    @BeforeEach
    void needsCuda() {
        assumeTrue(UNAVAILABLE == null, () -> "skipped, no CUDA device: " + UNAVAILABLE);
    }

    static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            var cl = Tiller.commandLine();
            cl.setErr(new PrintWriter(err, true));
            int code = cl.execute(args);
            assertEquals(0, code, () -> String.join(" ", args) + ": exit " + code + ", stderr: " + err);
        } finally {
            System.setOut(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** The command on the CPU and on CUDA; returns both outputs. */
    static String[] both(String... args) {
        List<String> cuda = new ArrayList<>(List.of(args));
        cuda.add("--device");
        cuda.add("cuda");
        return new String[]{run(args), run(cuda.toArray(String[]::new))};
    }

    @Test
    void generateChatIsTheSameOnBothDevices() {
        String[] out = both("generate", "-m", SHARED.resolve("models/tiny-random-qwen2.gguf").toString(), "-p", "Hello", "--chat", "-n", "16", "--temp", "0");
        assertFalse(out[0].isBlank());
        assertEquals(out[0], out[1]);
    }

    @Test
    void batchIsTheSameOnBothDevices(@TempDir Path tmp) throws Exception {
        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, """
                {"id": "a", "prompt": "Once upon a time", "max_tokens": 20, "temperature": 0}
                {"id": "b", "prompt": "The little dog was very sad because", "max_tokens": 24, "temperature": 0, "steer": ["%s:0.6"]}
                {"id": "c", "prompt": "Tom and Lily", "max_tokens": 16, "temperature": 0.8, "seed": 3}
                """.formatted(SHARED.resolve("reference/stories260K/happy_mean.gguf")));
        run("batch", "-m", STORIES.toString(), "-i", in.toString(), "-o", tmp.resolve("cpu.jsonl").toString());
        run("batch", "-m", STORIES.toString(), "-i", in.toString(), "-o", tmp.resolve("gpu.jsonl").toString(), "--device", "cuda");
        List<String> a = texts(tmp.resolve("cpu.jsonl")), b = texts(tmp.resolve("gpu.jsonl"));
        assertEquals(3, a.size());
        assertEquals(a, b);
    }

    static List<String> texts(Path results) throws Exception {
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(results)) {
            if (line.isBlank()) continue;
            var n = mapper.readTree(line);
            out.add(n.get("id").asText() + ": " + n.get("text").asText());
        }
        out.sort(null);
        return out;
    }

    @Test
    void evalIsTheSameOnBothDevices(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("dev.jsonl");
        Files.write(data, Files.readAllLines(SHARED.resolve("data/arith/dev.jsonl")).subList(0, 6));
        String[] out = both("eval", "-m", SHARED.resolve("models/arith-mini.gguf").toString(), "--data", data.toString(), "-o",
                tmp.resolve("results.jsonl").toString());
        assertTrue(out[0].contains("accuracy") || out[0].contains("%"), out[0]);
        assertEquals(strip(out[0]), strip(out[1]));
    }

    /** Timing figures differ between runs; everything else must not. */
    static String strip(String s) {
        return s.replaceAll("[0-9.]+ ?(s|ms|tok/s)\\b", "T");
    }

    @Test
    void extractGivesTheSameVectorOnBothDevices(@TempDir Path tmp) throws Exception {
        Path ref = SHARED.resolve("reference/stories260K");
        for (String device : new String[]{"cpu", "cuda"}) {
            run("extract", "-m", STORIES.toString(), "--positive", ref.resolve("pos.txt").toString(), "--negative", ref.resolve("neg.txt").toString(),
                    "--method", "mean", "--layers", "1-4", "-o", tmp.resolve(device + ".gguf").toString(), "--device", device);
        }
        var a = dev.tiller.steering.controlvector.ControlVectorFile.read(tmp.resolve("cpu.gguf"));
        var b = dev.tiller.steering.controlvector.ControlVectorFile.read(tmp.resolve("cuda.gguf"));
        assertEquals(a.directions().keySet(), b.directions().keySet());
        for (var e : a.directions().entrySet()) {
            float[] x = e.getValue(), y = b.directions().get(e.getKey());
            for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 1e-4 * Math.max(1, Math.abs(x[i])), "direction." + e.getKey() + "[" + i + "]");
        }
    }

    @Test
    void lensIsTheSameOnBothDevices() {
        String[] out = both("lens", "-m", STORIES.toString(), "-p", "Once upon a time");
        assertFalse(out[0].isBlank());
        assertEquals(out[0], out[1]);
    }

    /** The stderr of a command, which train writes its progress to. */
    static String runCapturingStderr(String... args) {
        PrintStream old = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            run(args);
        } finally {
            System.setErr(old);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** The loss column of a training curve (step,loss,reward,...). */
    static double[] losses(Path csv) throws Exception {
        return Files.readAllLines(csv).stream().skip(1).mapToDouble(l -> Double.parseDouble(l.split(",")[1])).toArray();
    }

    /**
     * {@code train --device cuda}: the same flags, forward and backward on the device in float32; the loss curve and
     * the trained vectors equal the CPU's float64 run to float rounding, and the run reports its peak GPU memory.
     */
    @Test
    void trainFollowsTheSameCurveOnBothDevices(@TempDir Path tmp) throws Exception {
        Path data = Files.writeString(tmp.resolve("d.jsonl"),
                "{\"prompt\":\"Once upon a time, there was a little girl named Lily.\",\"completion\":\" She liked to eat green frogs.\"}\n"
                        + "{\"prompt\":\"The dog ran to the park.\",\"completion\":\" He saw a big red ball.\"}\n");
        String[] err = new String[2];
        String[] devices = {"cpu", "cuda"};
        for (int i = 0; i < 2; i++) {
            err[i] = runCapturingStderr("train", "-m", STORIES.toString(), "--data", data.toString(), "-o", tmp.resolve(devices[i] + ".steer").toString(),
                    "--steps", "6", "--batch", "2", "--lr", "0.1", "--prefix", "1", "--device", devices[i]);
        }
        assertTrue(err[0].contains("forward and backward on CPU float64"), err[0]);
        assertTrue(err[1].contains("float32") && err[1].contains("peak GPU memory of training"), err[1]);
        double[] a = losses(tmp.resolve("cpu.csv")), b = losses(tmp.resolve("cuda.csv"));
        assertEquals(6, a.length);
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-3 * Math.max(1, Math.abs(a[i])), "loss at step " + (i + 1));
        assertTrue(a[a.length - 1] < a[0], "training lowered the loss");
        try (var m = dev.tiller.engine.api.Model.load(STORIES)) {
            double[] x = dev.tiller.steering.train.SteeringStore.load(tmp.resolve("cpu.steer"), m).params().theta;
            double[] y = dev.tiller.steering.train.SteeringStore.load(tmp.resolve("cuda.steer"), m).params().theta;
            double scale = 0, diff = 0;
            for (int i = 0; i < x.length; i++) {
                scale = Math.max(scale, Math.abs(x[i]));
                diff = Math.max(diff, Math.abs(x[i] - y[i]));
            }
            assertTrue(diff <= 1e-3 * scale, "trained vectors differ by " + diff + " of " + scale);
        }
    }

    /** GRPO on the device: rollouts by the CUDA model with the current vectors, then the float32 step; it completes. */
    @Test
    void grpoTrainsOnTheDevice(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("train.jsonl");
        Files.write(data, Files.readAllLines(SHARED.resolve("data/arith/train.jsonl")).subList(0, 4));
        String err = runCapturingStderr("train", "--objective", "grpo", "-m", SHARED.resolve("models/arith-mini.gguf").toString(), "--data",
                data.toString(), "-o", tmp.resolve("g.steer").toString(), "--steps", "2", "--batch", "2", "--group", "3", "--max-new", "12",
                "--device", "cuda");
        assertTrue(err.contains("step 2/2") && err.contains("peak GPU memory of training"), err);
        assertTrue(Files.size(tmp.resolve("g.steer")) > 0);
    }
}
