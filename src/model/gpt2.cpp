// Module names mirror transformers' GPT2LMHeadModel: transformer.{wte,wpe,h.N.{ln_1,attn,ln_2,mlp},ln_f}, lm_head.
#include "model/gpt2.h"

#include <cmath>

#include "compat.h"
#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/norm.h"

namespace retain::model {

namespace {

struct Gpt2Options {
  int64_t vocab_size = 0, n_embd = 0, n_layer = 0, n_head = 0, n_positions = 0, n_inner = 0;
  double layer_norm_epsilon = 1e-5;
  std::string activation;
  bool scale_attn_weights = true;
  bool scale_attn_by_inverse_layer_idx = false;
  bool tie_word_embeddings = true;
};

Gpt2Options gpt2_options(const io::HfConfig& c) {
  Gpt2Options o;
  o.vocab_size = c.get_positive_int("vocab_size");
  o.n_embd = c.get_positive_int("n_embd");
  o.n_layer = c.get_positive_int("n_layer");
  o.n_head = c.get_positive_int("n_head");
  o.n_positions = c.get_positive_int("n_positions");
  o.n_inner = c.get_positive_int("n_inner", 4 * o.n_embd);
  o.layer_norm_epsilon = c.get_positive_double("layer_norm_epsilon", 1e-5);
  o.activation = c.get_string("activation_function", "gelu_new");
  o.scale_attn_weights = c.get_bool("scale_attn_weights", true);
  o.scale_attn_by_inverse_layer_idx = c.get_bool("scale_attn_by_inverse_layer_idx", false);
  o.tie_word_embeddings = c.get_bool("tie_word_embeddings", true);
  if (o.n_embd % o.n_head != 0) {
    c.refuse("n_head", std::to_string(o.n_head), "a positive divisor of n_embd (" + std::to_string(o.n_embd) + ")");
  }
  if (!nn::activation_from_name(o.activation)) {
    c.refuse("activation_function", o.activation, "gelu_new, gelu_pytorch_tanh, gelu, relu, silu");
  }
  if (c.get_bool("add_cross_attention", false)) c.refuse("add_cross_attention", "true", "false");
  // reorder_and_upcast_attn only changes where fp16 is upcast; retain's attention softmax is fp32.
  if (c.has("quantization_config")) c.refuse("quantization_config", "present", "unquantized checkpoints");
  return o;
}

nn::Linear conv1d(int64_t in, int64_t out, const torch::TensorOptions& t) {
  return nn::Linear(nn::LinearOptions{in, out, true, /*fan_in_fan_out=*/true}, t);
}

class Gpt2AttentionImpl : public torch::nn::Module {
 public:
  Gpt2AttentionImpl(const Gpt2Options& o, int64_t layer_index, const torch::TensorOptions& t)
      : heads_(o.n_head), head_dim_(o.n_embd / o.n_head) {
    c_attn = register_module("c_attn", conv1d(o.n_embd, 3 * o.n_embd, t));
    c_proj = register_module("c_proj", conv1d(o.n_embd, o.n_embd, t));
    scale_ = o.scale_attn_weights ? 1.0 / std::sqrt(double(head_dim_)) : 1.0;
    if (o.scale_attn_by_inverse_layer_idx) scale_ /= double(layer_index + 1);
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, nn::KVCache* cache, size_t layer) {
    const auto b = x.size(0), t = x.size(1), width = x.size(2);
    auto qkv = c_attn(x).split(width, -1);
    auto heads = [&](const torch::Tensor& y) { return y.view({b, t, heads_, head_dim_}).transpose(1, 2); };
    auto q = heads(qkv[0]), k = heads(qkv[1]), v = heads(qkv[2]);
    if (cache != nullptr) std::tie(k, v) = cache->append(layer, k, v);
    auto out = compat::sdpa(q, k, v, mask, scale_);
    return c_proj(out.transpose(1, 2).reshape({b, t, width}));
  }
  nn::Linear c_attn{nullptr}, c_proj{nullptr};

 private:
  int64_t heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(Gpt2Attention);

class Gpt2MlpImpl : public torch::nn::Module {
 public:
  Gpt2MlpImpl(const Gpt2Options& o, const torch::TensorOptions& t) : act_(nn::activation_from_name(o.activation)) {
    c_fc = register_module("c_fc", conv1d(o.n_embd, o.n_inner, t));
    c_proj = register_module("c_proj", conv1d(o.n_inner, o.n_embd, t));
  }
  torch::Tensor forward(const torch::Tensor& x) { return c_proj(act_(c_fc(x))); }
  nn::Linear c_fc{nullptr}, c_proj{nullptr};

 private:
  nn::Activation act_;
};
TORCH_MODULE(Gpt2Mlp);

class Gpt2BlockImpl : public torch::nn::Module {
 public:
  Gpt2BlockImpl(const Gpt2Options& o, int64_t layer_index, const torch::TensorOptions& t) {
    ln_1 = register_module("ln_1", nn::LayerNorm(o.n_embd, o.layer_norm_epsilon, t));
    attn = register_module("attn", Gpt2Attention(o, layer_index, t));
    ln_2 = register_module("ln_2", nn::LayerNorm(o.n_embd, o.layer_norm_epsilon, t));
    mlp = register_module("mlp", Gpt2Mlp(o, t));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask, nn::KVCache* cache, size_t layer) {
    auto h = x + attn->forward(ln_1(x), mask, cache, layer);
    return h + mlp(ln_2(h));
  }
  nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  Gpt2Attention attn{nullptr};
  Gpt2Mlp mlp{nullptr};
};
TORCH_MODULE(Gpt2Block);

// transformers' GPT2Model, registered as "transformer".
class Gpt2BackboneImpl : public torch::nn::Module {
 public:
  Gpt2BackboneImpl(const Gpt2Options& o, const torch::TensorOptions& t) {
    wte = register_module("wte", nn::Embedding(o.vocab_size, o.n_embd, t));
    wpe = register_module("wpe", nn::Embedding(o.n_positions, o.n_embd, t));
    h = register_module("h", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.n_layer; ++i) {
      h->push_back(Gpt2Block(o, i, t));
      blocks.push_back(h->ptr<Gpt2BlockImpl>(i));
    }
    ln_f = register_module("ln_f", nn::LayerNorm(o.n_embd, o.layer_norm_epsilon, t));
  }
  nn::Embedding wte{nullptr}, wpe{nullptr};
  torch::nn::ModuleList h{nullptr};
  std::vector<std::shared_ptr<Gpt2BlockImpl>> blocks;
  nn::LayerNorm ln_f{nullptr};
};
TORCH_MODULE(Gpt2Backbone);

class Gpt2LMHeadModel : public CausalLM {
 public:
  Gpt2LMHeadModel(const io::HfConfig& config, const torch::TensorOptions& t)
      : CausalLM(config), o_(gpt2_options(config)) {
    transformer = register_module("transformer", Gpt2Backbone(o_, t));
    lm_head = register_module("lm_head", nn::Linear(nn::LinearOptions{o_.n_embd, o_.vocab_size, false}, t));
    if (o_.tie_word_embeddings) lm_head->tie_weight(transformer->wte->weight);
  }

  torch::Tensor forward_tokens(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                               const torch::Tensor& key_padding, nn::KVCache* cache) override {
    const auto t = input_ids.size(1);
    const auto total = t + (cache != nullptr ? cache->length() : 0);
    TORCH_CHECK(position_ids.max().item<int64_t>() < o_.n_positions, "gpt2: position ",
                position_ids.max().item<int64_t>(), " is past n_positions (", o_.n_positions, ")");
    auto h = transformer->wte(input_ids) + transformer->wpe(position_ids);
    auto mask = nn::attention_mask_build(key_padding, t, total, nn::MaskOptions{true, 0}, h.scalar_type(), h.device());
    for (size_t i = 0; i < transformer->blocks.size(); ++i) h = transformer->blocks[i]->forward(h, mask, cache, i);
    return lm_head(transformer->ln_f(h));
  }

  size_t num_layers() const override { return transformer->blocks.size(); }
  int64_t max_positions() const override { return o_.n_positions; }
  std::string base_model_prefix() const override { return "transformer"; }
  std::vector<std::string> ignored_checkpoint_suffixes() const override {
    // Old GPT-2 checkpoints carry the causal-mask buffers "attn.bias" / "attn.masked_bias".
    std::vector<std::string> ignored{".attn.bias", ".attn.masked_bias"};
    if (o_.tie_word_embeddings) ignored.push_back("lm_head.weight");
    return ignored;
  }

  Gpt2Backbone transformer{nullptr};
  nn::Linear lm_head{nullptr};

 private:
  Gpt2Options o_;
};

}  // namespace

std::shared_ptr<Model> gpt2_create(const io::HfConfig& config, const torch::TensorOptions& options) {
  config.architecture_check({"GPT2LMHeadModel"});
  return std::make_shared<Gpt2LMHeadModel>(config, options);
}

}  // namespace retain::model
