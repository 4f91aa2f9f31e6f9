package dev.tiller.steering.file;

import dev.tiller.engine.api.Model;
import dev.tiller.engine.batch.RowHook;
import dev.tiller.engine.batch.RowSteering;
import dev.tiller.engine.batch.SteeringResolver;
import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.steering.Positions;
import dev.tiller.steering.RowOps;
import dev.tiller.steering.ScaledPath;
import dev.tiller.steering.SteeringVector;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A batch request's {@code steer: "file.steer[:scale]"}: the project's steering file, checked against the model, its
 * vectors added to that request's rows. Batch requests are prefilled in chunks, so vectors limited to some token
 * positions (and prefix vectors, which need placeholder tokens) are refused here rather than applied wrongly.
 */
public final class SteerFileResolver implements SteeringResolver {

    @Override
    public RowSteering resolve(String spec, Model model) {
        ScaledPath sp = ScaledPath.parse(spec, "steer");
        String path = sp.path().toString();
        float scale = sp.scale();
        if (!path.endsWith(".steer")) return null;
        SteeringFile file;
        try {
            file = SteeringFile.read(Path.of(path));
            file.checkModel(model, path);
        } catch (SteeringFileException e) {
            throw new IllegalArgumentException("steer '" + spec + "': " + e.getMessage());
        }
        if (!file.prefixVectors().isEmpty()) {
            throw new IllegalArgumentException("steer '" + spec + "': prefix vectors are not supported in batch requests (use tiller generate)");
        }
        Map<HookPoint, List<RowHook>> hooks = new LinkedHashMap<>();
        for (SteeringVector v : file.vectors()) {
            if (v.positions().kind() != Positions.Kind.ALL) {
                throw new IllegalArgumentException("steer '" + spec + "': vector '" + v.name() + "' is limited to positions "
                        + v.positions().kind() + "; batch requests apply vectors at every position only");
            }
            float s = scale * v.scale();
            boolean keepNorm = v.normPreserving();
            for (var d : v.directions().entrySet()) {
                float[] dir = d.getValue();
                RowHook h = keepNorm ? (a, row) -> RowOps.addKeepingNorm(a, row, dir, s) : RowSteering.addVector(dir, s);
                hooks.computeIfAbsent(new HookPoint(v.site(), d.getKey()), k -> new ArrayList<>()).add(h);
            }
        }
        return new RowSteering(hooks);
    }
}
