package dev.tiller.models.synthetic;

import dev.tiller.models.arch.RopeStyle;
import dev.tiller.models.arch.TensorSpec;
import dev.tiller.models.arch.Weight;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a model of a given shape, in llama.cpp's order, as its architecture describes them (names and shapes
 * come from {@link dev.tiller.models.arch.Architecture}), each with how its random values are drawn.
 */
final class TensorPlan {

    enum Init {
        /** Linear weights and embeddings: normal(0, std). */
        WEIGHT,
        /** Biases: normal(0, std). */
        BIAS,
        /** RMS norm gains: 1 + normal(0, std), so they scale without collapsing or flipping activations. */
        NORM
    }

    /**
     * @param layer        the block of a per-layer weight (0 for model-wide ones)
     * @param hfShape      shape in safetensors order (outermost first): {@code [out, in]} or {@code [n]}
     * @param ropeHeads    for Q/K projections of a family whose GGUF rotates adjacent pairs: the head count to permute
     *                     rows by when writing GGUF, else 0
     * @param ggufOnly     tensors llama.cpp's converter synthesizes (rope_freqs) with no HF counterpart
     * @param hfNormOffset what HF leaves out of this norm weight (gemma: stores w for x · (1 + w)), else 0
     */
    record Entry(Weight weight, int layer, String ggufName, String hfName, long[] hfShape, Init init, int ropeHeads, boolean ggufOnly,
                 float hfNormOffset) {
        long rows() {
            return hfShape.length == 1 ? 1 : hfShape[0];
        }

        int rowLength() {
            return (int) hfShape[hfShape.length - 1];
        }

        long[] ggmlShape() {
            long[] ne = new long[hfShape.length];
            for (int i = 0; i < ne.length; i++) ne[i] = hfShape[hfShape.length - 1 - i];
            return ne;
        }

        boolean isMatrix() {
            return hfShape.length == 2;
        }
    }

    private TensorPlan() {}

    static List<Entry> of(ModelShape s) {
        List<Entry> head = new ArrayList<>(), blocks = new ArrayList<>(), tail = new ArrayList<>();
        List<TensorSpec> perLayer = new ArrayList<>();
        for (TensorSpec t : s.arch().tensors()) {
            if (!written(t, s)) continue;
            if (t.weight().perLayer) perLayer.add(t);
            else (perLayer.isEmpty() ? head : tail).add(entry(t, 0, s));
        }
        for (int l = 0; l < s.layers(); l++) {
            for (TensorSpec t : perLayer) blocks.add(entry(t, l, s));
        }
        List<Entry> all = new ArrayList<>(head);
        all.addAll(blocks);
        all.addAll(tail);
        return all;
    }

    /** Required weights, and of the optional ones those this shape calls for: an untied output, llama 3 rope factors. */
    private static boolean written(TensorSpec t, ModelShape s) {
        return switch (t.weight()) {
            case OUTPUT -> !s.tiedEmbeddings();
            case ROPE_FREQS -> s.ropeScaling() != null;
            default -> t.required();
        };
    }

    private static Entry entry(TensorSpec t, int layer, ModelShape s) {
        Weight w = t.weight();
        Init init = switch (w.kind) {
            case MATRIX, FACTORS -> Init.WEIGHT;
            case BIAS -> Init.BIAS;
            case NORM -> Init.NORM;
        };
        int ropeHeads = 0;
        if (s.arch().ggufRope() == RopeStyle.ADJACENT_PAIRS) {
            if (w == Weight.ATTN_Q) ropeHeads = s.heads();
            if (w == Weight.ATTN_K) ropeHeads = s.kvHeads();
        }
        float offset = w.kind == Weight.Kind.NORM ? s.arch().hfNormOffset() : 0f;
        return new Entry(w, layer, w.ggufName(layer), t.hfName(layer), w.shape(s), init, ropeHeads, t.hfName() == null, offset);
    }
}
