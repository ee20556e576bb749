// Module names mirror transformers' T5ForConditionalGeneration: shared, encoder.block.N.layer.{0,1},
// decoder.block.N.layer.{0,1,2}, {encoder,decoder}.final_layer_norm; lm_head when untied.
#include "model/t5.h"

#include <cmath>
#include <optional>

#include "compat.h"
#include "nn/activation.h"
#include "nn/embedding.h"
#include "nn/loss.h"
#include "nn/norm.h"
#include "nn/token-mask.h"

namespace retain::model {

namespace {

struct T5Options {
  int64_t vocab_size = 0, d_model = 0, d_kv = 0, d_ff = 0, num_heads = 0;
  int64_t num_layers = 0, num_decoder_layers = 0;
  int64_t num_buckets = 32, max_distance = 128;
  double eps = 1e-6;
  std::string act;     // dense_act_fn
  bool gated = false;  // "gated-gelu": wi_0, wi_1
  bool tie_word_embeddings = true;
  bool scale_decoder_outputs = true;  // d_model^-0.5 before the tied head
  int64_t pad_token_id = 0, decoder_start_token_id = 0;
};

T5Options t5_options(const io::HfConfig& c) {
  T5Options o;
  o.vocab_size = c.get_positive_int("vocab_size");
  o.d_model = c.get_positive_int("d_model");
  o.d_kv = c.get_positive_int("d_kv");
  o.d_ff = c.get_positive_int("d_ff");
  o.num_heads = c.get_positive_int("num_heads");
  o.num_layers = c.get_positive_int("num_layers");
  o.num_decoder_layers = c.get_positive_int("num_decoder_layers", o.num_layers);
  o.num_buckets = c.get_positive_int("relative_attention_num_buckets", 32);
  o.max_distance = c.get_positive_int("relative_attention_max_distance", 128);
  o.eps = c.get_positive_double("layer_norm_epsilon", 1e-6);
  o.tie_word_embeddings = c.get_bool("tie_word_embeddings", true);
  o.scale_decoder_outputs = c.get_bool("scale_decoder_outputs", o.tie_word_embeddings);
  o.pad_token_id = c.get_int("pad_token_id", 0);
  o.decoder_start_token_id = c.get_int("decoder_start_token_id", o.pad_token_id);
  // As transformers parses it: "relu", "gated-gelu" (which means gelu_new), "gated-silu", ...
  const auto proj = c.get_string("feed_forward_proj", "relu");
  const auto dash = proj.find('-');
  o.gated = dash != std::string::npos && proj.substr(0, dash) == "gated";
  o.act = dash == std::string::npos ? proj : proj.substr(dash + 1);
  if (proj == "gated-gelu") o.act = "gelu_new";
  if ((dash != std::string::npos && !o.gated) || proj.find('-', dash + 1) != std::string::npos ||
      !nn::activation_from_name(o.act)) {
    c.refuse("feed_forward_proj", proj, "relu, gelu, gated-gelu, gated-silu, ...");
  }
  if (c.has("quantization_config")) c.refuse("quantization_config", "present", "unquantized checkpoints");
  return o;
}

// T5Attention: q, k, v, o without biases; the first block's self-attention also owns the
// relative position bias table [num_buckets, heads].
class T5AttentionImpl : public torch::nn::Module {
 public:
  T5AttentionImpl(const T5Options& o, bool has_relative_bias, const torch::TensorOptions& t) : o_(o) {
    const auto inner = o.num_heads * o.d_kv;
    q = register_module("q", nn::Linear(nn::LinearOptions{o.d_model, inner, false}, t));
    k = register_module("k", nn::Linear(nn::LinearOptions{o.d_model, inner, false}, t));
    v = register_module("v", nn::Linear(nn::LinearOptions{o.d_model, inner, false}, t));
    this->o = register_module("o", nn::Linear(nn::LinearOptions{inner, o.d_model, false}, t));
    if (has_relative_bias) {
      relative_attention_bias =
          register_module("relative_attention_bias", nn::Embedding(o.num_buckets, o.num_heads, t));
    }
  }

  // Bias [1, H, T, S] for queries at positions past..past+T-1 and keys 0..S-1.
  torch::Tensor position_bias(int64_t query_len, int64_t key_len, bool bidirectional) {
    auto opts = torch::TensorOptions().dtype(torch::kLong).device(relative_attention_bias->weight.device());
    auto context = torch::arange(key_len - query_len, key_len, opts).view({-1, 1});
    auto memory = torch::arange(0, key_len, opts).view({1, -1});
    auto buckets = t5_relative_position_bucket(memory - context, bidirectional, o_.num_buckets, o_.max_distance);
    return relative_attention_bias(buckets).permute({2, 0, 1}).unsqueeze(0);
  }

  // x: [B, T, d_model]; keys/values from `source` (x itself for self-attention) unless cached.
  // bias: [B|1, H, T, S] with the mask folded in. T5 does not scale the scores. source_mask: the
  // real tokens of a cross-attention's source (nn/token-mask.h).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& source, const torch::Tensor& bias,
                        nn::KVCache* cache, size_t layer, bool static_kv, const torch::Tensor& source_mask = {}) {
    const auto b = x.size(0), t = x.size(1);
    auto heads = [&](const torch::Tensor& y) { return y.view({b, -1, o_.num_heads, o_.d_kv}).transpose(1, 2); };
    torch::Tensor keys, values;
    if (static_kv && cache != nullptr && cache->has(layer)) {
      std::tie(keys, values) = cache->get(layer);
    } else {
      std::optional<nn::TokenMaskScope> source_tokens;
      if (static_kv) source_tokens.emplace(source_mask);
      keys = heads(k(source));
      values = heads(v(source));
      if (cache != nullptr) {
        if (static_kv) {
          cache->set(layer, keys, values);
        } else {
          std::tie(keys, values) = cache->append(layer, keys, values);
        }
      }
    }
    auto out = compat::sdpa(heads(q(x)), keys, values, bias, 1.0);
    return o(out.transpose(1, 2).reshape({b, t, o_.num_heads * o_.d_kv}));
  }

  nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, o{nullptr};
  nn::Embedding relative_attention_bias{nullptr};

 private:
  T5Options o_;
};
TORCH_MODULE(T5Attention);

class T5LayerSelfAttentionImpl : public torch::nn::Module {
 public:
  T5LayerSelfAttentionImpl(const T5Options& o, bool has_relative_bias, const torch::TensorOptions& t) {
    SelfAttention = register_module("SelfAttention", T5Attention(o, has_relative_bias, t));
    layer_norm = register_module("layer_norm", nn::RMSNorm(o.d_model, o.eps, t));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& bias, nn::KVCache* cache, size_t layer) {
    auto n = layer_norm(x);
    return x + SelfAttention->forward(n, n, bias, cache, layer, false);
  }
  T5Attention SelfAttention{nullptr};
  nn::RMSNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerSelfAttention);

class T5LayerCrossAttentionImpl : public torch::nn::Module {
 public:
  T5LayerCrossAttentionImpl(const T5Options& o, const torch::TensorOptions& t) {
    EncDecAttention = register_module("EncDecAttention", T5Attention(o, false, t));
    layer_norm = register_module("layer_norm", nn::RMSNorm(o.d_model, o.eps, t));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& encoder_hidden, const torch::Tensor& bias,
                        nn::KVCache* cache, size_t layer, const torch::Tensor& encoder_mask) {
    return x + EncDecAttention->forward(layer_norm(x), encoder_hidden, bias, cache, layer, true, encoder_mask);
  }
  T5Attention EncDecAttention{nullptr};
  nn::RMSNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerCrossAttention);

// DenseReluDense: wo(act(wi(x))) or, gated, wo(act(wi_0(x)) * wi_1(x)).
class T5DenseImpl : public torch::nn::Module {
 public:
  T5DenseImpl(const T5Options& o, const torch::TensorOptions& t) : act_(nn::activation_from_name(o.act)) {
    if (o.gated) {
      wi_0 = register_module("wi_0", nn::Linear(nn::LinearOptions{o.d_model, o.d_ff, false}, t));
      wi_1 = register_module("wi_1", nn::Linear(nn::LinearOptions{o.d_model, o.d_ff, false}, t));
    } else {
      wi = register_module("wi", nn::Linear(nn::LinearOptions{o.d_model, o.d_ff, false}, t));
    }
    wo = register_module("wo", nn::Linear(nn::LinearOptions{o.d_ff, o.d_model, false}, t));
  }
  torch::Tensor forward(const torch::Tensor& x) { return wo(wi ? act_(wi(x)) : act_(wi_0(x)) * wi_1(x)); }
  nn::Linear wi{nullptr}, wi_0{nullptr}, wi_1{nullptr}, wo{nullptr};

 private:
  nn::Activation act_;
};
TORCH_MODULE(T5Dense);

class T5LayerFFImpl : public torch::nn::Module {
 public:
  T5LayerFFImpl(const T5Options& o, const torch::TensorOptions& t) {
    DenseReluDense = register_module("DenseReluDense", T5Dense(o, t));
    layer_norm = register_module("layer_norm", nn::RMSNorm(o.d_model, o.eps, t));
  }
  torch::Tensor forward(const torch::Tensor& x) { return x + DenseReluDense(layer_norm(x)); }
  T5Dense DenseReluDense{nullptr};
  nn::RMSNorm layer_norm{nullptr};
};
TORCH_MODULE(T5LayerFF);

// T5Block: "layer" holds [self-attention, (cross-attention,) feed-forward].
class T5BlockImpl : public torch::nn::Module {
 public:
  T5BlockImpl(const T5Options& o, bool decoder, bool has_relative_bias, const torch::TensorOptions& t) {
    layer = register_module("layer", torch::nn::ModuleList());
    self_attention = std::make_shared<T5LayerSelfAttentionImpl>(o, has_relative_bias, t);
    layer->push_back(self_attention);
    if (decoder) {
      cross_attention = std::make_shared<T5LayerCrossAttentionImpl>(o, t);
      layer->push_back(cross_attention);
    }
    feed_forward = std::make_shared<T5LayerFFImpl>(o, t);
    layer->push_back(feed_forward);
  }
  torch::nn::ModuleList layer{nullptr};
  std::shared_ptr<T5LayerSelfAttentionImpl> self_attention;
  std::shared_ptr<T5LayerCrossAttentionImpl> cross_attention;
  std::shared_ptr<T5LayerFFImpl> feed_forward;
};
TORCH_MODULE(T5Block);

// T5Stack without its embedding (the shared table lives on the model).
class T5StackImpl : public torch::nn::Module {
 public:
  T5StackImpl(const T5Options& o, bool decoder, const torch::TensorOptions& t) {
    const auto n = decoder ? o.num_decoder_layers : o.num_layers;
    block = register_module("block", torch::nn::ModuleList());
    for (int64_t i = 0; i < n; ++i) {
      block->push_back(T5Block(o, decoder, i == 0, t));
      blocks.push_back(block->ptr<T5BlockImpl>(i));
    }
    final_layer_norm = register_module("final_layer_norm", nn::RMSNorm(o.d_model, o.eps, t));
  }
  T5AttentionImpl& relative_bias_owner() { return *blocks.at(0)->self_attention->SelfAttention; }

  torch::nn::ModuleList block{nullptr};
  std::vector<std::shared_ptr<T5BlockImpl>> blocks;
  nn::RMSNorm final_layer_norm{nullptr};
};
TORCH_MODULE(T5Stack);

// [B, S] padding mask -> additive [B, 1, 1, S] (lowest value at padding), or undefined.
torch::Tensor padding_bias(const torch::Tensor& mask, torch::ScalarType dtype, torch::Device device) {
  if (!mask.defined()) return {};
  return nn::attention_mask_build(mask, 1, mask.size(1), nn::MaskOptions{}, dtype, device);
}

class T5ForConditionalGeneration : public Seq2SeqLM {
 public:
  T5ForConditionalGeneration(const io::HfConfig& config, const torch::TensorOptions& t)
      : Seq2SeqLM(config), o_(t5_options(config)) {
    shared = register_module("shared", nn::Embedding(o_.vocab_size, o_.d_model, t));
    encoder = register_module("encoder", T5Stack(o_, false, t));
    decoder = register_module("decoder", T5Stack(o_, true, t));
    lm_head = register_module("lm_head", nn::Linear(nn::LinearOptions{o_.d_model, o_.vocab_size, false}, t));
    if (o_.tie_word_embeddings) lm_head->tie_weight(shared->weight);
  }

  torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) override {
    auto h = shared(input_ids);
    const auto t = input_ids.size(1);
    auto bias = encoder->relative_bias_owner().position_bias(t, t, /*bidirectional=*/true).to(h.scalar_type());
    auto pad = padding_bias(attention_mask, h.scalar_type(), h.device());
    if (pad.defined()) bias = bias + pad;
    for (auto& block : encoder->blocks) {
      h = block->self_attention->forward(h, bias, nullptr, 0);
      h = block->feed_forward->forward(h);
    }
    return encoder->final_layer_norm(h);
  }

  torch::Tensor decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                       const torch::Tensor& encoder_mask, nn::KVCache* self_cache, nn::KVCache* cross_cache) override {
    auto h = shared(decoder_input_ids);
    const auto t = decoder_input_ids.size(1);
    const auto total = t + (self_cache != nullptr ? self_cache->length() : 0);
    auto self_bias =
        decoder->relative_bias_owner().position_bias(t, total, /*bidirectional=*/false).to(h.scalar_type());
    self_bias =
        self_bias + nn::attention_mask_build({}, t, total, nn::MaskOptions{true, 0}, h.scalar_type(), h.device());
    auto cross_bias = padding_bias(encoder_mask, h.scalar_type(), h.device());
    for (size_t i = 0; i < decoder->blocks.size(); ++i) {
      auto& block = decoder->blocks[i];
      h = block->self_attention->forward(h, self_bias, self_cache, i);
      h = block->cross_attention->forward(h, encoder_hidden, cross_bias, cross_cache, i, encoder_mask);
      h = block->feed_forward->forward(h);
    }
    h = decoder->final_layer_norm(h);
    if (o_.scale_decoder_outputs) h = h * std::pow(double(o_.d_model), -0.5);
    return lm_head(h);
  }

  Output compute(const Batch& batch) override {
    TORCH_CHECK(batch.input_ids.defined(), "t5 needs input_ids");
    auto decoder_ids = batch.decoder_input_ids;
    if (!decoder_ids.defined()) {
      TORCH_CHECK(batch.labels.defined(), "t5 needs decoder_input_ids or labels");
      decoder_ids = shift_right(batch.labels);
    }
    Output out;
    torch::Tensor encoder_hidden;
    {
      const nn::TokenMaskScope real_tokens(batch.attention_mask);
      encoder_hidden = encode(batch.input_ids, batch.attention_mask);
    }
    // Decoder position t predicts labels[t]: it is padding where that label is ignored.
    const nn::TokenMaskScope real_tokens(batch.labels.defined() ? batch.labels.ne(-100) : torch::Tensor());
    out.logits = decode(decoder_ids, encoder_hidden, batch.attention_mask, nullptr, nullptr);
    if (batch.labels.defined()) out.loss = nn::cross_entropy_loss(out.logits, batch.labels);
    return out;
  }

  size_t num_decoder_layers() const override { return decoder->blocks.size(); }
  int64_t decoder_start_token_id() const override { return o_.decoder_start_token_id; }
  std::string base_model_prefix() const override { return ""; }
  std::vector<std::string> ignored_checkpoint_suffixes() const override {
    // Tied copies of `shared` that some checkpoints store anyway.
    std::vector<std::string> ignored{"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"};
    if (o_.tie_word_embeddings) ignored.push_back("lm_head.weight");
    return ignored;
  }

  nn::Embedding shared{nullptr};
  T5Stack encoder{nullptr}, decoder{nullptr};
  nn::Linear lm_head{nullptr};

 private:
  // Decoder inputs for teacher forcing: [start, labels[:-1]] with -100 replaced by the pad id.
  torch::Tensor shift_right(const torch::Tensor& labels) const {
    auto start = torch::full({labels.size(0), 1}, o_.decoder_start_token_id, labels.options());
    auto shifted = torch::cat({start, labels.narrow(1, 0, labels.size(1) - 1)}, 1);
    return shifted.masked_fill(shifted == nn::kIgnoreIndex, o_.pad_token_id);
  }

  T5Options o_;
};

}  // namespace

torch::Tensor t5_relative_position_bucket(const torch::Tensor& relative_position, bool bidirectional,
                                          int64_t num_buckets, int64_t max_distance) {
  auto buckets = torch::zeros_like(relative_position);
  auto position = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    buckets = buckets + (position > 0).to(torch::kLong) * num_buckets;
    position = position.abs();
  } else {
    position = -torch::min(position, torch::zeros_like(position));
  }
  // Half the buckets are exact distances; the rest grow logarithmically up to max_distance.
  const int64_t max_exact = num_buckets / 2;
  auto is_small = position < max_exact;
  auto large = max_exact + (torch::log(position.to(torch::kFloat) / double(max_exact)) /
                            std::log(double(max_distance) / double(max_exact)) * double(num_buckets - max_exact))
                               .to(torch::kLong);
  large = torch::min(large, torch::full_like(large, num_buckets - 1));
  return buckets + torch::where(is_small, position, large);
}

std::shared_ptr<Model> t5_create(const io::HfConfig& config, const torch::TensorOptions& options) {
  config.architecture_check({"T5ForConditionalGeneration"});
  return std::make_shared<T5ForConditionalGeneration>(config, options);
}

}  // namespace retain::model
