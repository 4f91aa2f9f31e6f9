package dev.tiller.cli;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * llama.cpp's control-vector flags and the project's own steering-file flag. The engine only parses them; the
 * steering module applies them (through {@link SteeringApplier}).
 */
public final class SteeringOptions {
    @Option(names = "--control-vector", paramLabel = "FILE", description = "add a llama.cpp control vector at scale 1 (repeatable)")
    public List<String> controlVectors = new ArrayList<>();

    @Option(names = "--control-vector-scaled", paramLabel = "FILE:S", description = "add a llama.cpp control vector at scale S (repeatable)")
    public List<String> controlVectorsScaled = new ArrayList<>();

    @Option(names = "--control-vector-layer-range", arity = "2", paramLabel = "N", description = "apply control vectors to blocks START..END only (inclusive)")
    public List<Integer> layerRange = new ArrayList<>();

    @Option(names = "--steer", paramLabel = "FILE[:S]", description = "apply a .steer file at scale S (default 1; repeatable)")
    public List<String> steerFiles = new ArrayList<>();

    public boolean any() {
        return !controlVectors.isEmpty() || !controlVectorsScaled.isEmpty() || !steerFiles.isEmpty() || !layerRange.isEmpty();
    }
}
