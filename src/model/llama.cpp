// Module names mirror transformers' LlamaForCausalLM / Qwen2ForCausalLM / ..., so the parameter
// names are the checkpoint's: model.embed_tokens, model.layers.N.{self_attn,mlp,...}, model.norm, lm_head.
#include "model/llama.h"

#include <cmath>

#include "compat.h"
#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/norm.h"
#include "nn/rope.h"

namespace retain::model {

namespace {

struct LlamaOptions {
  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_layers = 0;
  int64_t num_heads = 0, num_kv_heads = 0, head_dim = 0, rotary_dim = 0;
  int64_t max_positions = 0;  // max_position_embeddings; 0 when the config has none
  double rms_norm_eps = 1e-6;
  io::RopeConfig rope;
  std::string hidden_act;
  bool qkv_bias = false;  // q/k/v projections have biases (qwen2; llama/qwen3 "attention_bias")
  bool o_bias = false;    // o_proj has a bias (llama/qwen3 "attention_bias")
  bool mlp_bias = false;
  bool qk_norm = false;  // qwen3
  bool tie_word_embeddings = false;
  std::vector<int64_t> sliding_window;  // per layer, 0 = full attention
};

LlamaOptions llama_options(const io::HfConfig& c) {
  const auto& type = c.model_type();
  LlamaOptions o;
  o.vocab_size = c.get_positive_int("vocab_size");
  o.hidden_size = c.get_positive_int("hidden_size");
  o.intermediate_size = c.get_positive_int("intermediate_size");
  o.num_layers = c.get_positive_int("num_hidden_layers");
  o.num_heads = c.get_positive_int("num_attention_heads");
  o.num_kv_heads = c.get_positive_int("num_key_value_heads", o.num_heads);
  o.max_positions = c.get_positive_int("max_position_embeddings", 0);
  if (o.num_heads % o.num_kv_heads != 0) {
    c.refuse("num_key_value_heads", std::to_string(o.num_kv_heads),
             "a positive divisor of num_attention_heads (" + std::to_string(o.num_heads) + ")");
  }
  o.head_dim = c.get_positive_int("head_dim", o.hidden_size / o.num_heads);
  o.rms_norm_eps = c.get_positive_double("rms_norm_eps", 1e-6);
  o.rope = c.rope();
  o.rotary_dim = static_cast<int64_t>(o.head_dim * c.get_double("partial_rotary_factor", 1.0));
  o.hidden_act = c.get_string("hidden_act", "silu");
  o.tie_word_embeddings = c.get_bool("tie_word_embeddings", false);
  if (o.rotary_dim <= 0 || o.rotary_dim % 2 != 0 || o.rotary_dim > o.head_dim) {
    c.refuse("partial_rotary_factor", std::to_string(c.get_double("partial_rotary_factor", 1.0)),
             "a factor giving an even rotary dimension <= head_dim");
  }
  if (!nn::activation_from_name(o.hidden_act)) c.refuse("hidden_act", o.hidden_act, "silu, gelu, gelu_new, relu");
  if (c.has("quantization_config")) c.refuse("quantization_config", "present", "unquantized checkpoints");

  if (type == "qwen2") {
    o.qkv_bias = true;
  } else {
    o.qkv_bias = o.o_bias = c.get_bool("attention_bias", false);
    o.mlp_bias = c.get_bool("mlp_bias", false);
  }
  o.qk_norm = type == "qwen3";

  // Sliding-window attention: mistral applies "sliding_window" to every layer; qwen2/qwen3 only to
  // the layers "layer_types" marks "sliding_attention" (older configs: use_sliding_window and
  // layers >= max_window_layers).
  o.sliding_window.assign(o.num_layers, 0);
  const int64_t window = c.get_int("sliding_window", 0);
  if (type == "mistral") {
    o.sliding_window.assign(o.num_layers, window);
  } else if (c.has("layer_types")) {
    const auto& types = c.json().at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != o.num_layers) {
      c.refuse("layer_types", types.dump(), "a list with one entry per layer");
    }
    for (int64_t i = 0; i < o.num_layers; ++i) {
      const auto name = types[i].is_string() ? types[i].get<std::string>() : types[i].dump();
      if (name == "sliding_attention") {
        o.sliding_window[i] = window;
      } else if (name != "full_attention") {
        c.refuse("layer_types[" + std::to_string(i) + "]", name, "full_attention, sliding_attention");
      }
    }
  } else if (c.get_bool("use_sliding_window", false)) {
    for (int64_t i = c.get_int("max_window_layers", 0); i < o.num_layers; ++i) o.sliding_window[i] = window;
  }
  return o;
}

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  LlamaAttentionImpl(const LlamaOptions& o, const torch::TensorOptions& t) : o_(o) {
    const auto q_dim = o.num_heads * o.head_dim, kv_dim = o.num_kv_heads * o.head_dim;
    q_proj = register_module("q_proj", nn::Linear(nn::LinearOptions{o.hidden_size, q_dim, o.qkv_bias}, t));
    k_proj = register_module("k_proj", nn::Linear(nn::LinearOptions{o.hidden_size, kv_dim, o.qkv_bias}, t));
    v_proj = register_module("v_proj", nn::Linear(nn::LinearOptions{o.hidden_size, kv_dim, o.qkv_bias}, t));
    o_proj = register_module("o_proj", nn::Linear(nn::LinearOptions{q_dim, o.hidden_size, o.o_bias}, t));
    if (o.qk_norm) {
      q_norm = register_module("q_norm", nn::RMSNorm(o.head_dim, o.rms_norm_eps, t));
      k_norm = register_module("k_norm", nn::RMSNorm(o.head_dim, o.rms_norm_eps, t));
    }
  }

  // x: [B, T, hidden] -> [B, T, hidden]
  torch::Tensor forward(const torch::Tensor& x, const nn::RopeAngles& angles, const torch::Tensor& mask,
                        nn::KVCache* cache, size_t layer) {
    const auto b = x.size(0), t = x.size(1);
    auto q = q_proj(x).view({b, t, o_.num_heads, o_.head_dim});
    auto k = k_proj(x).view({b, t, o_.num_kv_heads, o_.head_dim});
    auto v = v_proj(x).view({b, t, o_.num_kv_heads, o_.head_dim}).transpose(1, 2);
    if (o_.qk_norm) {
      q = q_norm(q);
      k = k_norm(k);
    }
    q = nn::rope_apply(q.transpose(1, 2), angles);
    k = nn::rope_apply(k.transpose(1, 2), angles);
    if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);
    const auto n_rep = o_.num_heads / o_.num_kv_heads;
    auto out =
        compat::sdpa(q, nn::repeat_kv(k, n_rep), nn::repeat_kv(v, n_rep), mask, 1.0 / std::sqrt(double(o_.head_dim)));
    return o_proj(out.transpose(1, 2).reshape({b, t, o_.num_heads * o_.head_dim}));
  }

  nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  nn::RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  LlamaOptions o_;
};
TORCH_MODULE(LlamaAttention);

class LlamaMlpImpl : public torch::nn::Module {
 public:
  LlamaMlpImpl(const LlamaOptions& o, const torch::TensorOptions& t) : act_(nn::activation_from_name(o.hidden_act)) {
    gate_proj =
        register_module("gate_proj", nn::Linear(nn::LinearOptions{o.hidden_size, o.intermediate_size, o.mlp_bias}, t));
    up_proj =
        register_module("up_proj", nn::Linear(nn::LinearOptions{o.hidden_size, o.intermediate_size, o.mlp_bias}, t));
    down_proj =
        register_module("down_proj", nn::Linear(nn::LinearOptions{o.intermediate_size, o.hidden_size, o.mlp_bias}, t));
  }
  torch::Tensor forward(const torch::Tensor& x) { return down_proj(act_(gate_proj(x)) * up_proj(x)); }

  nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  nn::Activation act_;
};
TORCH_MODULE(LlamaMlp);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  LlamaDecoderLayerImpl(const LlamaOptions& o, const torch::TensorOptions& t) {
    self_attn = register_module("self_attn", LlamaAttention(o, t));
    mlp = register_module("mlp", LlamaMlp(o, t));
    input_layernorm = register_module("input_layernorm", nn::RMSNorm(o.hidden_size, o.rms_norm_eps, t));
    post_attention_layernorm =
        register_module("post_attention_layernorm", nn::RMSNorm(o.hidden_size, o.rms_norm_eps, t));
  }
  torch::Tensor forward(const torch::Tensor& x, const nn::RopeAngles& angles, const torch::Tensor& mask,
                        nn::KVCache* cache, size_t layer) {
    auto h = x + self_attn->forward(input_layernorm(x), angles, mask, cache, layer);
    return h + mlp(post_attention_layernorm(h));
  }

  LlamaAttention self_attn{nullptr};
  LlamaMlp mlp{nullptr};
  nn::RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// transformers' LlamaModel: registered as "model".
class LlamaBackboneImpl : public torch::nn::Module {
 public:
  LlamaBackboneImpl(const LlamaOptions& o, const torch::TensorOptions& t) {
    embed_tokens = register_module("embed_tokens", nn::Embedding(o.vocab_size, o.hidden_size, t));
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.num_layers; ++i) {
      layers->push_back(LlamaDecoderLayer(o, t));
      decoder_layers.push_back(layers->ptr<LlamaDecoderLayerImpl>(i));
    }
    norm = register_module("norm", nn::RMSNorm(o.hidden_size, o.rms_norm_eps, t));
  }

  nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  std::vector<std::shared_ptr<LlamaDecoderLayerImpl>> decoder_layers;
  nn::RMSNorm norm{nullptr};
};
TORCH_MODULE(LlamaBackbone);

class LlamaForCausalLM : public CausalLM {
 public:
  LlamaForCausalLM(const io::HfConfig& config, const torch::TensorOptions& t)
      : CausalLM(config), o_(llama_options(config)), inv_freq_(nn::rope_inv_freq(o_.rope, o_.rotary_dim)) {
    model = register_module("model", LlamaBackbone(o_, t));
    lm_head = register_module("lm_head", nn::Linear(nn::LinearOptions{o_.hidden_size, o_.vocab_size, false}, t));
    if (o_.tie_word_embeddings) lm_head->tie_weight(model->embed_tokens->weight);
  }

  torch::Tensor forward_tokens(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                               const torch::Tensor& key_padding, nn::KVCache* cache) override {
    auto h = model->embed_tokens(input_ids);
    const auto t = input_ids.size(1);
    const auto total = t + (cache != nullptr ? cache->length() : 0);
    auto angles = nn::rope_angles(inv_freq_.to(h.device()), position_ids, h.scalar_type());
    std::map<int64_t, torch::Tensor> masks;  // one per distinct sliding window
    for (size_t i = 0; i < model->decoder_layers.size(); ++i) {
      const auto window = o_.sliding_window[i];
      if (!masks.count(window)) {
        masks[window] =
            nn::attention_mask_build(key_padding, t, total, nn::MaskOptions{true, window}, h.scalar_type(), h.device());
      }
      h = model->decoder_layers[i]->forward(h, angles, masks[window], cache, i);
    }
    return lm_head(model->norm(h));
  }

  size_t num_layers() const override { return model->decoder_layers.size(); }
  int64_t max_positions() const override { return o_.max_positions; }
  std::string base_model_prefix() const override { return "model"; }
  std::vector<std::string> ignored_checkpoint_suffixes() const override {
    std::vector<std::string> ignored{"rotary_emb.inv_freq"};
    if (o_.tie_word_embeddings) ignored.push_back("lm_head.weight");
    return ignored;
  }

  LlamaBackbone model{nullptr};
  nn::Linear lm_head{nullptr};

 private:
  LlamaOptions o_;
  torch::Tensor inv_freq_;
};

}  // namespace

std::shared_ptr<Model> llama_create(const io::HfConfig& config, const torch::TensorOptions& options) {
  config.architecture_check({"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"});
  return std::make_shared<LlamaForCausalLM>(config, options);
}

}  // namespace retain::model
