package dev.tiller.models.synthetic;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors of a model of a given shape, in llama.cpp's order, each with its GGUF and HF names, its HF shape and
 * how its random values are drawn.
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
     * @param hfShape     shape in safetensors order (outermost first): {@code [out, in]} or {@code [n]}
     * @param ropeHeads   for llama Q/K projections: the head count to permute rows by when writing GGUF, else 0
     * @param ggufOnly    tensors llama.cpp's converter synthesizes (rope_freqs) with no HF counterpart
     */
    record Entry(String ggufName, String hfName, long[] hfShape, Init init, int ropeHeads, boolean ggufOnly) {
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
        List<Entry> list = new ArrayList<>();
        boolean llama = s.arch().equals("llama");
        int qDim = s.heads() * s.headDim();
        int kvDim = s.kvHeads() * s.headDim();
        list.add(new Entry("token_embd.weight", "model.embed_tokens.weight", shape(s.vocab(), s.embd()), Init.WEIGHT, 0, false));
        if (s.ropeScaling() != null) {
            list.add(new Entry("rope_freqs.weight", null, shape(s.headDim() / 2), Init.WEIGHT, 0, true));
        }
        for (int l = 0; l < s.layers(); l++) {
            String b = "blk." + l + ".";
            String h = "model.layers." + l + ".";
            list.add(new Entry(b + "attn_norm.weight", h + "input_layernorm.weight", shape(s.embd()), Init.NORM, 0, false));
            list.add(new Entry(b + "attn_q.weight", h + "self_attn.q_proj.weight", shape(qDim, s.embd()), Init.WEIGHT, llama ? s.heads() : 0, false));
            if (s.qkvBias()) list.add(new Entry(b + "attn_q.bias", h + "self_attn.q_proj.bias", shape(qDim), Init.BIAS, 0, false));
            list.add(new Entry(b + "attn_k.weight", h + "self_attn.k_proj.weight", shape(kvDim, s.embd()), Init.WEIGHT, llama ? s.kvHeads() : 0, false));
            if (s.qkvBias()) list.add(new Entry(b + "attn_k.bias", h + "self_attn.k_proj.bias", shape(kvDim), Init.BIAS, 0, false));
            list.add(new Entry(b + "attn_v.weight", h + "self_attn.v_proj.weight", shape(kvDim, s.embd()), Init.WEIGHT, 0, false));
            if (s.qkvBias()) list.add(new Entry(b + "attn_v.bias", h + "self_attn.v_proj.bias", shape(kvDim), Init.BIAS, 0, false));
            if (s.qkNorm()) {
                list.add(new Entry(b + "attn_q_norm.weight", h + "self_attn.q_norm.weight", shape(s.headDim()), Init.NORM, 0, false));
                list.add(new Entry(b + "attn_k_norm.weight", h + "self_attn.k_norm.weight", shape(s.headDim()), Init.NORM, 0, false));
            }
            list.add(new Entry(b + "attn_output.weight", h + "self_attn.o_proj.weight", shape(s.embd(), qDim), Init.WEIGHT, 0, false));
            list.add(new Entry(b + "ffn_norm.weight", h + "post_attention_layernorm.weight", shape(s.embd()), Init.NORM, 0, false));
            list.add(new Entry(b + "ffn_gate.weight", h + "mlp.gate_proj.weight", shape(s.ff(), s.embd()), Init.WEIGHT, 0, false));
            list.add(new Entry(b + "ffn_up.weight", h + "mlp.up_proj.weight", shape(s.ff(), s.embd()), Init.WEIGHT, 0, false));
            list.add(new Entry(b + "ffn_down.weight", h + "mlp.down_proj.weight", shape(s.embd(), s.ff()), Init.WEIGHT, 0, false));
        }
        list.add(new Entry("output_norm.weight", "model.norm.weight", shape(s.embd()), Init.NORM, 0, false));
        if (!s.tiedEmbeddings()) {
            list.add(new Entry("output.weight", "lm_head.weight", shape(s.vocab(), s.embd()), Init.WEIGHT, 0, false));
        }
        return list;
    }

    private static long[] shape(long... dims) {
        return dims;
    }
}
