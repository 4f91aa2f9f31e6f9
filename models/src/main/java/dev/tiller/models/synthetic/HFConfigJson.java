package dev.tiller.models.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiller.loader.GGMLType;
import dev.tiller.models.arch.Activation;
import dev.tiller.models.arch.Architecture;
import dev.tiller.models.arch.Architectures;
import dev.tiller.models.arch.ConfigKey;
import dev.tiller.models.arch.Weight;

/**
 * Writes the Hugging Face {@code config.json} of a model shape, with the keys transformers reads for each architecture
 * (their names from {@link ConfigKey}).
 */
final class HFConfigJson {
    private HFConfigJson() {}

    static String of(ModelShape s, GGMLType dtype, int bos, int eos) {
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode c = json.createObjectNode();
        Architecture a = s.arch();
        c.putArray("architectures").add(a.hfClass());
        c.put("model_type", a.hfModelTypes().getFirst());
        c.put(ConfigKey.EMBEDDING_LENGTH.hf, s.embd());
        c.put(ConfigKey.FEED_FORWARD_LENGTH.hf, s.ff());
        c.put(ConfigKey.BLOCK_COUNT.hf, s.layers());
        c.put(ConfigKey.HEAD_COUNT.hf, s.heads());
        c.put(ConfigKey.HEAD_COUNT_KV.hf, s.kvHeads());
        c.put(ConfigKey.KEY_LENGTH.hf, s.headDim());
        c.put(ConfigKey.VOCAB_SIZE.hf, s.vocab());
        c.put(ConfigKey.CONTEXT_LENGTH.hf, s.contextLength());
        c.put(ConfigKey.RMS_EPS.hf, s.rmsEps());
        c.put(ConfigKey.ROPE_FREQ_BASE.hf, s.ropeTheta());
        if (s.ropeScaling() != null) {
            ObjectNode r = c.putObject(ConfigKey.ROPE_SCALING.hf);
            r.put("rope_type", "llama3");
            r.put("factor", s.ropeScaling().factor());
            r.put("low_freq_factor", s.ropeScaling().lowFreqFactor());
            r.put("high_freq_factor", s.ropeScaling().highFreqFactor());
            r.put("original_max_position_embeddings", s.ropeScaling().originalContextLength());
        } else {
            c.putNull(ConfigKey.ROPE_SCALING.hf);
        }
        ModelShape.Extras x = s.extras();
        if (a.reads(ConfigKey.SLIDING_WINDOW)) c.put(ConfigKey.SLIDING_WINDOW.hf, x.slidingWindow());
        if (a.reads(ConfigKey.ATTN_LOGIT_SOFTCAPPING)) c.put(ConfigKey.ATTN_LOGIT_SOFTCAPPING.hf, x.attnLogitSoftcap());
        if (a.reads(ConfigKey.FINAL_LOGIT_SOFTCAPPING)) c.put(ConfigKey.FINAL_LOGIT_SOFTCAPPING.hf, x.finalLogitSoftcap());
        if (a.reads(ConfigKey.QUERY_PRE_ATTN_SCALAR)) c.put(ConfigKey.QUERY_PRE_ATTN_SCALAR.hf, x.queryPreAttnScalar());
        c.put("tie_word_embeddings", s.tiedEmbeddings());
        c.put("hidden_act", a.activation().hfName);
        // transformers' Gemma2Config reads the activation under this newer key
        if (a.activation() != Activation.SILU) c.put("hidden_activation", a.activation().hfName);
        boolean qkvBias = a.has(Weight.ATTN_Q_BIAS) && a.spec(Weight.ATTN_Q_BIAS).required();
        if (!qkvBias) c.put("attention_bias", false); // qwen2 always has QKV biases and no such key
        if (a == Architectures.LLAMA) c.put("mlp_bias", false);
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
