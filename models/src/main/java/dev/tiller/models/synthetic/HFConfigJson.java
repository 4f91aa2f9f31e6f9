package dev.tiller.models.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.loader.GGMLType;

/** Writes the Hugging Face {@code config.json} of a model shape, with the keys transformers reads for each architecture. */
final class HFConfigJson {
    private HFConfigJson() {}

    static String of(ModelShape s, GGMLType dtype, int bos, int eos) {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        String hfArch = switch (s.arch()) {
            case "llama" -> "LlamaForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            case "qwen3" -> "Qwen3ForCausalLM";
            default -> throw new IllegalArgumentException("no HF architecture for " + s.arch());
        };
        c.putArray("architectures").add(hfArch);
        c.put("model_type", s.arch());
        c.put("hidden_size", s.embd());
        c.put("intermediate_size", s.ff());
        c.put("num_hidden_layers", s.layers());
        c.put("num_attention_heads", s.heads());
        c.put("num_key_value_heads", s.kvHeads());
        c.put("head_dim", s.headDim());
        c.put("vocab_size", s.vocab());
        c.put("max_position_embeddings", s.contextLength());
        c.put("rms_norm_eps", s.rmsEps());
        c.put("rope_theta", s.ropeTheta());
        if (s.ropeScaling() != null) {
            ObjectNode r = c.putObject("rope_scaling");
            r.put("rope_type", "llama3");
            r.put("factor", s.ropeScaling().factor());
            r.put("low_freq_factor", s.ropeScaling().lowFreqFactor());
            r.put("high_freq_factor", s.ropeScaling().highFreqFactor());
            r.put("original_max_position_embeddings", s.ropeScaling().originalContextLength());
        } else {
            c.putNull("rope_scaling");
        }
        c.put("tie_word_embeddings", s.tiedEmbeddings());
        c.put("hidden_act", "silu");
        if (!s.arch().equals("qwen2")) c.put("attention_bias", false); // qwen2 always has QKV biases
        if (s.arch().equals("llama")) c.put("mlp_bias", false);
        c.put("bos_token_id", bos);
        c.put("eos_token_id", eos);
        c.put("torch_dtype", switch (dtype) {
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            default -> "float32";
        });
        c.put("initializer_range", WeightGenerator.WEIGHT_STD);
        try {
            return json.writeValueAsString(c) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
