package dev.tiller.engine.api;

import dev.tiller.engine.chat.ChatTemplate;
import dev.tiller.engine.model.CudaTransformer;
import dev.tiller.engine.model.ForwardPass;
import dev.tiller.engine.model.GGUFModelConfig;
import dev.tiller.engine.model.HFModelConfig;
import dev.tiller.engine.model.MemoryBudget;
import dev.tiller.engine.model.ModelConfig;
import dev.tiller.engine.model.ModelWeights;
import dev.tiller.engine.model.Transformer;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.loader.TensorSource;
import dev.tiller.loader.gguf.GGUFFile;
import dev.tiller.loader.hf.HFConfig;
import dev.tiller.loader.hf.HFModelFolder;
import dev.tiller.models.arch.Architecture;
import dev.tiller.tokenizer.Tokenizer;
import dev.tiller.tokenizer.Tokenizers;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A loaded model: config, memory-mapped weights, tokenizer and chat template. Immutable after loading and safe to
 * share between threads; each thread talks to it through its own {@link Session}.
 *
 * <pre>{@code
 * try (Model model = Model.load(Path.of("model.gguf"))) {
 *     Session s = model.newSession();
 *     Generation g = new Generator(s).generate("Once upon a time", GenerationOptions.defaults(), piece -> System.out.print(piece));
 * }
 * }</pre>
 */
public final class Model implements AutoCloseable {
    /** Default KV cache size when the caller does not choose one (the model's own context may be far larger). */
    public static final int DEFAULT_CONTEXT = 4096;

    private final Path path;
    private final TensorSource source;
    private final ModelConfig config;
    private final Transformer transformer;
    private final Tokenizer tokenizer;
    private final ChatTemplate chatTemplate;
    private ForwardPass forwardPass;
    private CudaTransformer cuda;
    private final MemoryBudget memoryBudget = MemoryBudget.withDefaultLimit();

    private Model(Path path, TensorSource source, ModelConfig config, Tokenizer tokenizer, ChatTemplate chatTemplate) {
        this.path = path;
        this.source = source;
        this.config = config;
        this.transformer = new Transformer(config, ModelWeights.bind(config, source));
        this.tokenizer = tokenizer;
        this.chatTemplate = chatTemplate;
        this.forwardPass = transformer::forward;
    }

    /**
     * Loads a model whose forward pass runs on {@code device}. {@link Device#CUDA} uploads the weights to the GPU and
     * throws {@link dev.tiller.kernels.cuda.CudaUnavailableException} (an IllegalStateException saying what is missing)
     * when CUDA cannot be used.
     */
    public static Model load(Path path, Device device) {
        Model m = load(path);
        if (device == Device.CUDA) {
            try {
                m.cuda = new CudaTransformer(m.config, m.transformer.weights());
                m.forwardPass = m.cuda;
            } catch (RuntimeException | LinkageError e) {
                m.close();
                throw e;
            }
        }
        return m;
    }

    /** Where the forward pass runs, in words (the GPU's name, memory and libraries for CUDA). */
    public String describeDevice() {
        return cuda != null ? cuda.describe() : "CPU";
    }

    /** Where the forward pass runs. */
    public Device device() {
        return cuda != null ? Device.CUDA : Device.CPU;
    }

    /** The forward pass sessions use: the CPU {@link Transformer}, or the GPU one when loaded with {@link Device#CUDA}. */
    public ForwardPass forwardPass() {
        return forwardPass;
    }

    /** Loads a GGUF file, or a Hugging Face folder (config.json + safetensors + tokenizer files). */
    public static Model load(Path path) {
        dev.tiller.kernels.JvmFlags.requireVectorApi();
        if (!Files.exists(path)) throw new ModelFormatException(path + ": no such file or directory");
        return Files.isDirectory(path) ? loadHuggingFace(path) : loadGguf(path);
    }

    private static Model loadGguf(Path path) {
        GGUFFile f = GGUFFile.open(path);
        try {
            ModelConfig c = GGUFModelConfig.read(f.metadata(), f);
            Tokenizer tok = Tokenizers.fromGGUF(f.metadata());
            ChatTemplate tmpl = null;
            if (f.metadata().has("tokenizer.chat_template")) {
                tmpl = ChatTemplate.of(f.metadata().getString("tokenizer.chat_template"), tokenText(tok, tok.bosId()), tokenText(tok, tok.eosId()));
            }
            return new Model(path, f, c, tok, tmpl);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private static Model loadHuggingFace(Path dir) {
        // the family's description names the tensors, so config.json is read before the weights are opened
        Path configFile = dir.resolve(HFModelFolder.CONFIG_FILE);
        if (!Files.exists(configFile)) throw new ModelFormatException(configFile + ": no such file");
        Architecture arch = HFModelConfig.architecture(HFConfig.read(configFile));
        HFModelFolder folder = HFModelFolder.open(dir, arch::ggufName);
        try {
            ModelConfig c = HFModelConfig.read(folder);
            Tokenizer tok = Tokenizers.fromHuggingFace(dir);
            ChatTemplate tmpl = HFModelConfig.chatTemplate(dir, tok);
            return new Model(dir, folder, c, tok, tmpl);
        } catch (RuntimeException e) {
            folder.close();
            throw e;
        }
    }

    private static String tokenText(Tokenizer tok, int id) {
        return id >= 0 ? tok.tokenText(id) : "";
    }

    public Path path() {
        return path;
    }

    @Override
    public String toString() {
        return "Model[" + path + ": " + config + ", device " + device().name().toLowerCase(java.util.Locale.ROOT) + "]";
    }

    public ModelConfig config() {
        return config;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public Optional<ChatTemplate> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * The model's weights (memory-mapped). There is no public door to one device's forward pass: every caller runs
     * {@link #forwardPass()}, which is the GPU's when the model was loaded for CUDA.
     */
    public ModelWeights weights() {
        return transformer.weights();
    }

    public TensorSource tensors() {
        return source;
    }

    /**
     * The budget that the KV caches and forward-pass activations of this model's sessions draw from (default: see
     * {@link MemoryBudget#defaultLimit()}); {@code memoryBudget().setLimit(bytes)} changes it.
     */
    public MemoryBudget memoryBudget() {
        return memoryBudget;
    }

    public Session newSession() {
        return newSession(Math.min(DEFAULT_CONTEXT, config.contextLength()));
    }

    /**
     * A session with room for {@code contextSize} positions.
     *
     * @throws dev.tiller.engine.model.MemoryBudgetExceededException if that context's KV cache could never fit in the
     *         {@linkplain #memoryBudget() memory budget}, or its first block does not fit beside the other sessions'
     */
    public Session newSession(int contextSize) {
        return new Session(this, contextSize);
    }

    @Override
    public void close() {
        if (cuda != null) cuda.close();
        source.close();
    }
}
