package dev.tiller.steering.cli;

import dev.tiller.cli.SteeringApplier;
import dev.tiller.cli.SteeringOptions;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.steering.PrefixVectors;
import dev.tiller.steering.ScaledPath;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.controlvector.ControlVectorSteering;
import dev.tiller.steering.file.SteeringFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Applies {@code generate}'s steering flags to a session: llama.cpp control vectors and {@code --steer FILE[:S]}. */
public final class CliSteering implements SteeringApplier {

    @Override
    public void apply(SteeringOptions o, Session session) {
        applySteerFiles(o.steerFiles, session);
        List<ControlVector> vectors = new ArrayList<>();
        List<Float> scales = new ArrayList<>();
        for (String f : o.controlVectors) {
            vectors.add(ControlVectorFile.read(Path.of(f)));
            scales.add(1f);
        }
        for (String spec : o.controlVectorsScaled) {
            ScaledPath sp = ScaledPath.parse(spec, "--control-vector-scaled");
            if (!sp.scaleGiven()) throw new IllegalArgumentException("--control-vector-scaled expects FILE:SCALE, got '" + spec + "'");
            vectors.add(ControlVectorFile.read(sp.path()));
            scales.add(sp.scale());
        }
        int layers = session.model().config().layers();
        int first = 1, last = layers - 1;
        if (!o.layerRange.isEmpty()) {
            if (vectors.isEmpty()) throw new IllegalArgumentException("--control-vector-layer-range needs a --control-vector");
            first = o.layerRange.get(0);
            last = o.layerRange.get(1);
            if (first < 0 || last < first) throw new IllegalArgumentException("--control-vector-layer-range " + first + " " + last + " is not a valid range");
        }
        if (vectors.isEmpty()) return;
        Hooks hooks = session.hooks() == Hooks.NONE ? session.installHooks() : session.hooks();
        ControlVectorSteering.install(hooks, ControlVector.sum(vectors, scales), session.model().config().dim(), layers, first, last);
    }

    /** {@code --steer FILE[:S]}: each file is checked against the model (fingerprint, width, layers) before it is applied. */
    void applySteerFiles(List<String> specs, Session session) {
        if (specs.isEmpty()) return;
        Steering steering = new Steering(session.model().config());
        for (String spec : specs) {
            ScaledPath sp = ScaledPath.parse(spec, "--steer");
            String file = sp.path().toString();
            float scale = sp.scale();
            SteeringFile sf = SteeringFile.read(Path.of(file));
            sf.checkModel(session.model(), file);
            for (SteeringVector v : sf.vectors()) steering.add(v, scale);
            if (!sf.prefixVectors().isEmpty()) {
                if (prefix != null) throw new IllegalArgumentException("--steer: only one file may carry prefix vectors (" + file + ")");
                prefix = PrefixVectors.install(session, sf.prefixVectors(), scale);
            }
        }
        steering.install(session);
    }

    /** Prefix vectors (if a --steer file has them) need their placeholder tokens before the prompt. */
    private PrefixVectors prefix;

    @Override
    public int[] prompt(SteeringOptions o, Session session, int[] promptTokens) {
        return prefix == null ? promptTokens : prefix.placeholdersBefore(promptTokens);
    }
}
