package dev.tiller.steering.controlvector;

import dev.tiller.engine.hooks.HookPoint;
import dev.tiller.engine.hooks.HookSite;
import dev.tiller.engine.hooks.Hooks;

/** Installs a control vector as hooks that add direction.N to {@code blocks.N.hook_resid_post}, as llama.cpp does. */
public final class ControlVectorSteering {

    /**
     * @param firstLayer first steered block, inclusive (llama.cpp's --control-vector-layer-range START)
     * @param lastLayer  last steered block, inclusive
     */
    public static void install(Hooks hooks, ControlVector cv, int modelWidth, int modelLayers, int firstLayer, int lastLayer) {
        if (cv.embeddingLength() != modelWidth) {
            throw new IllegalArgumentException("control vector has width " + cv.embeddingLength() + " but the model's n_embd is " + modelWidth);
        }
        for (var e : cv.directions().entrySet()) {
            int layer = e.getKey();
            if (layer < firstLayer || layer > lastLayer || layer >= modelLayers) continue;
            float[] d = e.getValue();
            // the plain row add, which the GPU pass runs on the device (and inside its captured decode graph)
            hooks.add(new HookPoint(HookSite.RESID_POST, layer), new dev.tiller.engine.hooks.RowVectorAdd(d, 1f));
        }
    }

    private ControlVectorSteering() {}
}
