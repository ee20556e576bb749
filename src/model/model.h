// model.h - what every architecture offers the rest of retain: a forward pass over a Batch with the
// Hugging Face head's loss, its config, and its linear layers by HF name (what methods adapt).
// Parameter names are Hugging Face's, so named_parameters() is the checkpoint.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compat.h"
#include "io/hf-config.h"
#include "nn/attention.h"
#include "nn/linear.h"
#include "nn/loss.h"

namespace retain::model {

enum class ModelKind { CausalLM, Seq2SeqLM, ImageClassifier };

struct Batch {
  torch::Tensor input_ids;          // [B, T] int64
  torch::Tensor attention_mask;     // [B, T]: 1 token, 0 padding (undefined: no padding)
  torch::Tensor labels;             // [B, T] causal LM, [B, L] seq2seq, [B] classifier; -100 ignored
  torch::Tensor decoder_input_ids;  // seq2seq; built from labels (shifted right) when undefined
  torch::Tensor pixel_values;       // [B, C, H, W] image models
  // Classifiers: added to the logits before the loss ([num_labels]: 0 on the classes the batch
  // trains, -inf elsewhere), so a per-task head trains only its own task's classes.
  torch::Tensor logit_bias;
};

struct Output {
  torch::Tensor logits;
  torch::Tensor loss;      // defined when the batch has labels
  torch::Tensor features;  // classifiers: what the head reads ([B, hidden]; ViT: the final-norm [CLS])
};

// The short names of an architecture's attention projections (model.h attention_names).
struct AttentionNames {
  std::string query, key, value;
};

class Model : public torch::nn::Module {
 public:
  explicit Model(io::HfConfig config) : config_(std::move(config)) {}
  virtual ModelKind kind() const = 0;
  // The forward pass with the compute dtype in force; each architecture implements compute().
  Output forward(const Batch& batch) {
    const auto scope = compute_scope();
    return compute(batch);
  }
  // Mixed precision: the weights (and so the optimizer's state) keep their dtype, float32, and every
  // forward pass runs under autocast to `dtype` (bf16 matmuls; norms, softmax and loss in float32).
  // Undefined (the default): the forward pass runs in the weights' dtype.
  void set_compute_dtype(torch::ScalarType dtype) { compute_dtype_ = dtype; }
  torch::ScalarType compute_dtype() const { return compute_dtype_; }
  // The autocast scope of the compute dtype (nothing when it is undefined); generation holds it too.
  compat::AutocastScope compute_scope();

  // How many items the loss of `batch` is the mean over (labels other than -100; for a causal LM
  // the shifted ones). Data-parallel ranks weight their losses by it, so that the sum over ranks
  // is the loss of the whole batch.
  virtual int64_t loss_items(const Batch& batch) const { return nn::cross_entropy_items(batch.labels); }

  const io::HfConfig& config() const { return config_; }
  // The longest sequence the model has positions for (max_position_embeddings, n_positions); 0 when
  // the architecture has no such bound (T5's relative positions, ViT).
  virtual int64_t max_positions() const { return 0; }
  // The folder the model was loaded from ("" when built in memory).
  const std::string& source() const { return source_; }
  void set_source(std::string dir) { source_ = std::move(dir); }

  // Every nn::Linear by its HF module name ("model.layers.3.self_attn.q_proj"), in module order.
  std::vector<std::pair<std::string, nn::Linear>> linear_layers();
  nn::Linear linear_layer(const std::string& name);  // error naming `name` when absent

  // Architecture knowledge methods ask for instead of testing model types themselves.
  // The output layer's module name ("lm_head"; "classifier" for image classifiers, whose head trains
  // fully beside any adapters).
  std::string head_layer() const { return kind() == ModelKind::ImageClassifier ? "classifier" : "lm_head"; }
  // The output layer, or a layer whose weight is the input embedding's (tied).
  bool is_head(const std::string& layer_name, const nn::Linear& layer) const {
    return layer->weight_tied() || layer_name == head_layer();
  }
  // A parameter of an image classifier's head ("classifier.weight"), which every method trains (each
  // task brings new classes); a language model's head is never one.
  bool is_classifier_head_parameter(const std::string& name) const {
    return kind() == ModelKind::ImageClassifier && name.rfind(head_layer() + ".", 0) == 0;
  }
  // The short names of the attention projections (GPT-2 fuses all three into "c_attn").
  AttentionNames attention_names() const;

  // Checkpoint rules for loading. The HF base-model prefix ("model", "transformer", "vit"; "" for
  // none): checkpoints saved from the bare base model lack it, and loading adds it back.
  virtual std::string base_model_prefix() const = 0;
  // Checkpoint tensors that HF drops on load (tied copies, non-persistent buffers), as name suffixes.
  virtual std::vector<std::string> ignored_checkpoint_suffixes() const { return {}; }

 protected:
  virtual Output compute(const Batch& batch) = 0;

  io::HfConfig config_;
  std::string source_;
  torch::ScalarType compute_dtype_ = torch::ScalarType::Undefined;
};

// Decoder-only language models (Llama family, GPT-2).
class CausalLM : public Model {
 public:
  using Model::Model;
  ModelKind kind() const override { return ModelKind::CausalLM; }
  // Positions 0..T-1 as HF's forward uses them; causal-LM loss when the batch has labels.
  Output compute(const Batch& batch) override;
  int64_t loss_items(const Batch& batch) const override { return nn::causal_lm_items(batch.labels); }
  // Logits [B, T, V] for `input_ids` at `position_ids` [B, T], attending causally to the cached
  // positions and themselves. key_padding: [B, cached + T] (1 token, 0 padding) or undefined.
  virtual torch::Tensor forward_tokens(const torch::Tensor& input_ids, const torch::Tensor& position_ids,
                                       const torch::Tensor& key_padding, nn::KVCache* cache) = 0;
  virtual size_t num_layers() const = 0;
};

// Encoder-decoder language models (T5).
class Seq2SeqLM : public Model {
 public:
  using Model::Model;
  ModelKind kind() const override { return ModelKind::Seq2SeqLM; }
  virtual torch::Tensor encode(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) = 0;
  // Logits [B, T, V] for `decoder_input_ids` that follow the `self_cache` positions (if any).
  // The caches may be null (no caching); cross_cache holds the encoder keys/values once computed.
  virtual torch::Tensor decode(const torch::Tensor& decoder_input_ids, const torch::Tensor& encoder_hidden,
                               const torch::Tensor& encoder_mask, nn::KVCache* self_cache,
                               nn::KVCache* cross_cache) = 0;
  virtual size_t num_decoder_layers() const = 0;
  virtual int64_t decoder_start_token_id() const = 0;
};

// Image classifiers (ViT).
class ImageClassifier : public Model {
 public:
  using Model::Model;
  ModelKind kind() const override { return ModelKind::ImageClassifier; }
};

}  // namespace retain::model
