// Module names mirror transformers' ViTForImageClassification: vit.embeddings.{cls_token,
// position_embeddings,patch_embeddings.projection}, vit.encoder.layer.N.{attention.attention.{query,
// key,value},attention.output.dense,intermediate.dense,output.dense,layernorm_before,layernorm_after},
// vit.layernorm, classifier.
#include "model/vit.h"

#include <cmath>

#include "compat.h"
#include "nn/activation.h"
#include "nn/loss.h"
#include "nn/norm.h"

namespace retain::model {

namespace {

struct VitOptions {
  int64_t hidden_size = 0, num_layers = 0, num_heads = 0, intermediate_size = 0;
  int64_t image_size = 0, patch_size = 0, num_channels = 3, num_labels = 0;
  double eps = 1e-12;
  std::string hidden_act;
  bool qkv_bias = true;
  std::string problem_type;  // "" = decided from labels, as transformers does
};

// image_size / patch_size may be an int or a square [h, w] pair.
int64_t square_size(const io::HfConfig& c, const std::string& key) {
  if (!c.has(key)) return c.get_int(key);  // the error naming the file and the key
  const auto& value = c.json().at(key);
  if (value.is_array() && value.size() == 2 && value[0].is_number_integer() && value[0] == value[1]) {
    return value[0].get<int64_t>();
  }
  return c.get_int(key);
}

VitOptions vit_options(const io::HfConfig& c) {
  VitOptions o;
  o.hidden_size = c.get_positive_int("hidden_size");
  o.num_layers = c.get_positive_int("num_hidden_layers");
  o.num_heads = c.get_positive_int("num_attention_heads");
  o.intermediate_size = c.get_positive_int("intermediate_size");
  o.image_size = square_size(c, "image_size");
  o.patch_size = square_size(c, "patch_size");
  o.num_channels = c.get_positive_int("num_channels", 3);
  o.eps = c.get_positive_double("layer_norm_eps", 1e-12);
  o.hidden_act = c.get_string("hidden_act", "gelu");
  o.qkv_bias = c.get_bool("qkv_bias", true);
  o.problem_type = c.get_string("problem_type", "");
  // num_labels is stored as id2label in saved configs.
  o.num_labels = c.has("id2label") && c.json().at("id2label").is_object()
                     ? static_cast<int64_t>(c.json().at("id2label").size())
                     : c.get_int("num_labels", 2);
  if (o.hidden_size % o.num_heads != 0) {
    c.refuse("num_attention_heads", std::to_string(o.num_heads), "a positive divisor of hidden_size");
  }
  if (o.patch_size <= 0 || o.image_size % o.patch_size != 0) {
    c.refuse("patch_size", std::to_string(o.patch_size),
             "a divisor of image_size (" + std::to_string(o.image_size) + ")");
  }
  if (!nn::activation_from_name(o.hidden_act)) c.refuse("hidden_act", o.hidden_act, "gelu, gelu_new, relu, silu");
  if (!o.problem_type.empty() && o.problem_type != "single_label_classification" && o.problem_type != "regression" &&
      o.problem_type != "multi_label_classification") {
    c.refuse("problem_type", o.problem_type, "single_label_classification, multi_label_classification, regression");
  }
  if (c.has("quantization_config")) c.refuse("quantization_config", "present", "unquantized checkpoints");
  return o;
}

// ViTPatchEmbeddings.projection: a Conv2d with kernel = stride = patch size.
class PatchProjectionImpl : public torch::nn::Module {
 public:
  PatchProjectionImpl(const VitOptions& o, const torch::TensorOptions& t) : patch_(o.patch_size) {
    weight = register_parameter("weight", torch::zeros({o.hidden_size, o.num_channels, o.patch_size, o.patch_size}, t));
    bias = register_parameter("bias", torch::zeros({o.hidden_size}, t));
  }
  // [B, C, H, W] -> [B, patches, hidden]
  torch::Tensor forward(const torch::Tensor& pixels) {
    return torch::conv2d(pixels, weight, bias, {patch_, patch_}).flatten(2).transpose(1, 2);
  }
  torch::Tensor weight, bias;

 private:
  int64_t patch_;
};
TORCH_MODULE(PatchProjection);

class PatchEmbeddingsImpl : public torch::nn::Module {
 public:
  PatchEmbeddingsImpl(const VitOptions& o, const torch::TensorOptions& t) {
    projection = register_module("projection", PatchProjection(o, t));
  }
  PatchProjection projection{nullptr};
};
TORCH_MODULE(PatchEmbeddings);

class VitEmbeddingsImpl : public torch::nn::Module {
 public:
  VitEmbeddingsImpl(const VitOptions& o, const torch::TensorOptions& t) : o_(o) {
    const auto patches = (o.image_size / o.patch_size) * (o.image_size / o.patch_size);
    cls_token = register_parameter("cls_token", torch::zeros({1, 1, o.hidden_size}, t));
    position_embeddings = register_parameter("position_embeddings", torch::zeros({1, patches + 1, o.hidden_size}, t));
    patch_embeddings = register_module("patch_embeddings", PatchEmbeddings(o, t));
  }
  torch::Tensor forward(const torch::Tensor& pixels) {
    TORCH_CHECK(pixels.dim() == 4 && pixels.size(1) == o_.num_channels && pixels.size(2) == o_.image_size &&
                    pixels.size(3) == o_.image_size,
                "vit: pixel_values must be [batch, ", o_.num_channels, ", ", o_.image_size, ", ", o_.image_size,
                "], got ", pixels.sizes());
    auto patches = patch_embeddings->projection(pixels.to(cls_token.scalar_type()));
    auto cls = cls_token.expand({pixels.size(0), -1, -1});
    return torch::cat({cls, patches}, 1) + position_embeddings;
  }
  torch::Tensor cls_token, position_embeddings;
  PatchEmbeddings patch_embeddings{nullptr};

 private:
  VitOptions o_;
};
TORCH_MODULE(VitEmbeddings);

class VitSelfAttentionImpl : public torch::nn::Module {
 public:
  VitSelfAttentionImpl(const VitOptions& o, const torch::TensorOptions& t) : heads_(o.num_heads) {
    query = register_module("query", nn::Linear(nn::LinearOptions{o.hidden_size, o.hidden_size, o.qkv_bias}, t));
    key = register_module("key", nn::Linear(nn::LinearOptions{o.hidden_size, o.hidden_size, o.qkv_bias}, t));
    value = register_module("value", nn::Linear(nn::LinearOptions{o.hidden_size, o.hidden_size, o.qkv_bias}, t));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const auto b = x.size(0), n = x.size(1), width = x.size(2), d = width / heads_;
    auto heads = [&](const torch::Tensor& y) { return y.view({b, n, heads_, d}).transpose(1, 2); };
    auto out = compat::sdpa(heads(query(x)), heads(key(x)), heads(value(x)), {}, 1.0 / std::sqrt(double(d)));
    return out.transpose(1, 2).reshape({b, n, width});
  }
  nn::Linear query{nullptr}, key{nullptr}, value{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(VitSelfAttention);

// A module holding one "dense" projection (ViTSelfOutput, ViTIntermediate, ViTOutput).
class DenseImpl : public torch::nn::Module {
 public:
  DenseImpl(int64_t in, int64_t out, const torch::TensorOptions& t) {
    dense = register_module("dense", nn::Linear(nn::LinearOptions{in, out, true}, t));
  }
  nn::Linear dense{nullptr};
};
TORCH_MODULE(Dense);

class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(const VitOptions& o, const torch::TensorOptions& t) {
    attention = register_module("attention", VitSelfAttention(o, t));
    output = register_module("output", Dense(o.hidden_size, o.hidden_size, t));
  }
  torch::Tensor forward(const torch::Tensor& x) { return output->dense(attention(x)); }
  VitSelfAttention attention{nullptr};
  Dense output{nullptr};
};
TORCH_MODULE(VitAttention);

class VitLayerImpl : public torch::nn::Module {
 public:
  VitLayerImpl(const VitOptions& o, const torch::TensorOptions& t) : act_(nn::activation_from_name(o.hidden_act)) {
    attention = register_module("attention", VitAttention(o, t));
    intermediate = register_module("intermediate", Dense(o.hidden_size, o.intermediate_size, t));
    output = register_module("output", Dense(o.intermediate_size, o.hidden_size, t));
    layernorm_before = register_module("layernorm_before", nn::LayerNorm(o.hidden_size, o.eps, t));
    layernorm_after = register_module("layernorm_after", nn::LayerNorm(o.hidden_size, o.eps, t));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = x + attention(layernorm_before(x));
    return h + output->dense(act_(intermediate->dense(layernorm_after(h))));
  }
  VitAttention attention{nullptr};
  Dense intermediate{nullptr}, output{nullptr};
  nn::LayerNorm layernorm_before{nullptr}, layernorm_after{nullptr};

 private:
  nn::Activation act_;
};
TORCH_MODULE(VitLayer);

class VitEncoderImpl : public torch::nn::Module {
 public:
  VitEncoderImpl(const VitOptions& o, const torch::TensorOptions& t) {
    layer = register_module("layer", torch::nn::ModuleList());
    for (int64_t i = 0; i < o.num_layers; ++i) {
      layer->push_back(VitLayer(o, t));
      layers.push_back(layer->ptr<VitLayerImpl>(i));
    }
  }
  torch::nn::ModuleList layer{nullptr};
  std::vector<std::shared_ptr<VitLayerImpl>> layers;
};
TORCH_MODULE(VitEncoder);

// transformers' ViTModel without the pooler, registered as "vit".
class VitBackboneImpl : public torch::nn::Module {
 public:
  VitBackboneImpl(const VitOptions& o, const torch::TensorOptions& t) {
    embeddings = register_module("embeddings", VitEmbeddings(o, t));
    encoder = register_module("encoder", VitEncoder(o, t));
    layernorm = register_module("layernorm", nn::LayerNorm(o.hidden_size, o.eps, t));
  }
  VitEmbeddings embeddings{nullptr};
  VitEncoder encoder{nullptr};
  nn::LayerNorm layernorm{nullptr};
};
TORCH_MODULE(VitBackbone);

class VitForImageClassification : public ImageClassifier {
 public:
  VitForImageClassification(const io::HfConfig& config, const torch::TensorOptions& t)
      : ImageClassifier(config), o_(vit_options(config)) {
    vit = register_module("vit", VitBackbone(o_, t));
    classifier = register_module("classifier", nn::Linear(nn::LinearOptions{o_.hidden_size, o_.num_labels, true}, t));
  }

  // Regression and multi-label losses are means over every label element.
  int64_t loss_items(const Batch& batch) const override {
    const bool integer = batch.labels.scalar_type() == torch::kLong || batch.labels.scalar_type() == torch::kInt;
    return integer ? nn::cross_entropy_items(batch.labels) : batch.labels.numel();
  }

  Output compute(const Batch& batch) override {
    TORCH_CHECK(batch.pixel_values.defined(), "vit needs pixel_values");
    auto h = vit->embeddings(batch.pixel_values);
    for (auto& layer : vit->encoder->layers) h = layer->forward(h);
    Output out;
    out.features = vit->layernorm(h).select(1, 0);
    out.logits = classifier(out.features);
    if (batch.logit_bias.defined()) out.logits = out.logits + batch.logit_bias.to(out.logits.device());
    if (batch.labels.defined()) out.loss = loss(out.logits, batch.labels);
    return out;
  }

  std::string base_model_prefix() const override { return "vit"; }
  std::vector<std::string> ignored_checkpoint_suffixes() const override {
    // ViTModel checkpoints may carry a pooler the classification head does not use.
    return {"vit.pooler.dense.weight", "vit.pooler.dense.bias"};
  }

  VitBackbone vit{nullptr};
  nn::Linear classifier{nullptr};

 private:
  // transformers' rule when problem_type is unset: one label = regression; integer labels =
  // single-label classification; otherwise multi-label.
  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& labels) const {
    auto type = o_.problem_type;
    if (type.empty()) {
      const bool integer = labels.scalar_type() == torch::kLong || labels.scalar_type() == torch::kInt;
      type = o_.num_labels == 1 ? "regression" : integer ? "single_label_classification" : "multi_label_classification";
    }
    if (type == "regression") {
      return torch::mse_loss(logits.squeeze().to(torch::kFloat), labels.squeeze().to(torch::kFloat));
    }
    if (type == "multi_label_classification") {
      return torch::binary_cross_entropy_with_logits(logits.to(torch::kFloat), labels.to(torch::kFloat));
    }
    return nn::cross_entropy_loss(logits, labels);
  }

  VitOptions o_;
};

}  // namespace

std::shared_ptr<Model> vit_create(const io::HfConfig& config, const torch::TensorOptions& options) {
  config.architecture_check({"ViTForImageClassification"});
  return std::make_shared<VitForImageClassification>(config, options);
}

}  // namespace retain::model
