package dev.tiller.steering;

import dev.tiller.cli.SteeringApplier;
import dev.tiller.cli.SteeringOptions;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
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
            int colon = spec.lastIndexOf(':');
            if (colon <= 0) throw new IllegalArgumentException("--control-vector-scaled expects FILE:SCALE, got '" + spec + "'");
            float s;
            try {
                s = Float.parseFloat(spec.substring(colon + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--control-vector-scaled '" + spec + "': scale '" + spec.substring(colon + 1) + "' is not a number");
            }
            vectors.add(ControlVectorFile.read(Path.of(spec.substring(0, colon))));
            scales.add(s);
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
    static void applySteerFiles(List<String> specs, Session session) {
        if (specs.isEmpty()) return;
        Steering steering = new Steering(session.model().config());
        for (String spec : specs) {
            String file = spec;
            float scale = 1f;
            int colon = spec.lastIndexOf(':');
            if (colon > 0) {
                try {
                    scale = Float.parseFloat(spec.substring(colon + 1));
                    file = spec.substring(0, colon);
                } catch (NumberFormatException e) {
                    if (!java.nio.file.Files.exists(Path.of(spec))) {
                        throw new IllegalArgumentException("--steer '" + spec + "': scale '" + spec.substring(colon + 1) + "' is not a number");
                    }
                }
            }
            SteeringFile sf = SteeringFile.read(Path.of(file));
            sf.checkModel(session.model(), file);
            for (SteeringVector v : sf.vectors()) steering.add(v, scale);
        }
        steering.install(session);
    }
}
