package dev.tiller.steering.cli;

import dev.tiller.engine.api.Model;
import dev.tiller.steering.Steering;
import dev.tiller.steering.SteeringVector;
import dev.tiller.steering.controlvector.ControlVectorFile;
import dev.tiller.steering.file.SteeringFile;

import java.nio.file.Path;
import java.util.List;

/** Loads a .gguf control vector or a .steer file as steering vectors, checked against the model. */
final class VectorFiles {

    static List<SteeringVector> load(Path p, Model model) {
        String name = p.getFileName().toString();
        if (name.endsWith(".steer")) {
            SteeringFile f = SteeringFile.read(p);
            f.checkModel(model, p.toString());
            return f.vectors();
        }
        SteeringVector v = ControlVectorFile.read(p).toSteeringVector(name);
        Steering.check(v, model.config());
        return List.of(v);
    }

    private VectorFiles() {}
}
