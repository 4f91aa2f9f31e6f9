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
 * vectors added to that request's rows, its prefix vectors put before the prompt ({@link RowSteering#prefixVectors}).
 * Batch requests are prefilled in chunks, so vectors limited to some token positions are refused here rather than
 * applied wrongly.
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
        RowSteering vectors = new RowSteering(hooks);
        if (file.prefixVectors().isEmpty()) return vectors;
        // prefix vectors (scaled as tiller generate scales them): K placeholder tokens before the prompt, replaced at hook_embed
        int dim = model.config().dim();
        float[][] pre = new float[file.prefixVectors().size()][];
        for (int k = 0; k < pre.length; k++) {
            float[] v = file.prefixVectors().get(k);
            if (v.length != dim) throw new IllegalArgumentException("steer '" + spec + "': prefix vector " + k + " has " + v.length + " values, the model " + dim);
            pre[k] = new float[dim];
            for (int i = 0; i < dim; i++) pre[k][i] = scale * v[i];
        }
        return RowSteering.combine(List.of(vectors, RowSteering.prefixVectors(pre)));
    }
}
