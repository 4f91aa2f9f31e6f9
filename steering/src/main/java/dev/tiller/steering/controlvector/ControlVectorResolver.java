package dev.tiller.steering.controlvector;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.RowHook;
import dev.tiller.engine.batch.RowSteering;
import dev.tiller.engine.batch.SteeringResolver;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.loader.ModelFormatException;
import dev.tiller.steering.ScaledPath;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A batch request's {@code steer: "path[:scale]"} naming a llama.cpp control-vector GGUF: direction.N times the scale
 * is added to that request's rows of {@code blocks.N.hook_resid_post}, as {@code generate --control-vector-scaled}
 * does for a whole session (llama.cpp never steers block 0).
 */
public final class ControlVectorResolver implements SteeringResolver {

    @Override
    public RowSteering resolve(String spec, Model model) {
        ScaledPath sp = ScaledPath.parse(spec, "steer");
        String path = sp.path().toString();
        float scale = sp.scale();
        if (path.endsWith(".steer")) return null; // the project's own steering files: another resolver's job
        Path p = Path.of(path);
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException("steer '" + spec + "': no such file " + path);
        ControlVector cv;
        try {
            cv = ControlVectorFile.read(p);
        } catch (ModelFormatException e) {
            throw new IllegalArgumentException("steer '" + spec + "': " + e.getMessage());
        }
        int width = model.config().dim();
        int layers = model.config().layers();
        if (cv.embeddingLength() != width) {
            throw new IllegalArgumentException("steer '" + spec + "': the control vector has width " + cv.embeddingLength()
                    + " but the model's n_embd is " + width + " (made for another model" + (cv.modelHint().isEmpty() ? "" : ", hint '" + cv.modelHint() + "'") + ")");
        }
        Map<HookPoint, List<RowHook>> hooks = new LinkedHashMap<>();
        for (var e : cv.directions().entrySet()) {
            int layer = e.getKey();
            if (layer >= layers) {
                throw new IllegalArgumentException("steer '" + spec + "': the control vector has a direction for block " + layer
                        + " but the model has " + layers + " blocks (made for another model)");
            }
            hooks.put(new HookPoint(HookSite.RESID_POST, layer), List.of(RowSteering.addVector(e.getValue(), scale)));
        }
        return new RowSteering(hooks);
    }
}
