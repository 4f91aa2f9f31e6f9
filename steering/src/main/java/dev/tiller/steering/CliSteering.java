package dev.tiller.steering;

import dev.tiller.cli.SteeringApplier;
import dev.tiller.cli.SteeringOptions;
import dev.tiller.engine.api.Session;
import dev.tiller.engine.hooks.Hooks;
import dev.tiller.steering.controlvector.ControlVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.controlvector.ControlVectorSteering;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Applies {@code generate}'s llama.cpp control-vector flags to a session. */
public final class CliSteering implements SteeringApplier {

    @Override
    public void apply(SteeringOptions o, Session session) {
        if (!o.steerFiles.isEmpty()) throw new UnsupportedOperationException("--steer: .steer files are not supported yet");
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
}
