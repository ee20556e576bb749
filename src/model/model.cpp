#include "model/model.h"

#include "error.h"
#include "nn/loss.h"
#include "nn/token-mask.h"

namespace retain::model {

std::vector<std::pair<std::string, nn::Linear>> Model::linear_layers() {
  std::vector<std::pair<std::string, nn::Linear>> out;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    if (auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value()))
      out.emplace_back(item.key(), nn::Linear(linear));
  }
  return out;
}

nn::Linear Model::linear_layer(const std::string& name) {
  for (auto& [layer_name, layer] : linear_layers()) {
    if (layer_name == name) return layer;
  }
  fail("model", source_.empty() ? config_.path() : source_, ": no linear layer named '", name, "'");
}

AttentionNames Model::attention_names() const {
  const auto& type = config_.model_type();
  if (type == "gpt2") return {"c_attn", "c_attn", "c_attn"};
  if (type == "t5") return {"q", "k", "v"};
  if (type == "vit") return {"query", "key", "value"};
  return {"q_proj", "k_proj", "v_proj"};  // the Llama family
}

compat::AutocastScope Model::compute_scope() {
  if (compute_dtype_ == torch::ScalarType::Undefined) return compat::AutocastScope();
  return compat::AutocastScope(parameters().front().device().type(), compute_dtype_);
}

Output CausalLM::compute(const Batch& batch) {
  TORCH_CHECK(batch.input_ids.defined() && batch.input_ids.dim() == 2, "a causal LM needs input_ids [batch, tokens]");
  const auto t = batch.input_ids.size(1);
  auto positions =
      torch::arange(t, batch.input_ids.options().dtype(torch::kLong)).unsqueeze(0).expand_as(batch.input_ids);
  Output out;
  const nn::TokenMaskScope real_tokens(batch.attention_mask);
  out.logits = forward_tokens(batch.input_ids, positions, batch.attention_mask, nullptr);
  if (batch.labels.defined()) out.loss = nn::causal_lm_loss(out.logits, batch.labels);
  return out;
}

}  // namespace retain::model
