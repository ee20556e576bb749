// o-lora.cpp - O-LoRA and IncLoRA (see o-lora.h).
#include "method/o-lora.h"

#include "data/shuffle.h"
#include "error.h"

namespace retain::method {

void OLora::begin_task(model::Model& /*model*/, const TaskContext& task) {
  // The adapter is named after the task, so save = "adapters" writes adapters/<task name>.
  const auto name = task.name;
  const auto seed = data::derive_seed(task.seed, "o-lora task " + std::to_string(task.index));
  adapter_add_everywhere(name, [&](const std::string& layer_name, nn::LinearImpl& layer) {
    return kaiming_uniform_A(layer_name, layer, seed);
  });
}

torch::Tensor OLora::penalty(model::Model& /*model*/, const model::Batch& /*batch*/, const model::Output& /*out*/) {
  torch::Tensor total;
  auto add = [&](const torch::Tensor& term) { total = total.defined() ? total + term : term; };
  for (auto& [layer_name, layer] : layers_) {
    const auto* current = layer->adapter_find(trainable_);
    if (current == nullptr) continue;
    for (const auto& old : layer->adapters()) {
      if (old.name == trainable_ || lambda1_ == 0) continue;
      add(lambda1_ * torch::matmul(old.A, current->A.t()).abs().sum());
    }
    if (lambda2_ != 0) add(lambda2_ * (current->A.norm() + current->B.norm()));
  }
  return total;
}

namespace {

std::unique_ptr<Method> create(config::Options& options, const std::string& name, double lambda1_default) {
  auto settings = lora_settings_read(options, name, lora_settings_with_dropout());
  const double lambda1 = options.get_double("lambda1", lambda1_default);
  const double lambda2 = options.get_double("lambda2", 0.0);
  if (lambda1 < 0 || lambda2 < 0) fail("method", name, ": lambda1 and lambda2 must not be negative");
  options.reject_unused(name);
  return std::make_unique<OLora>(std::move(settings), lambda1, lambda2, name);
}

}  // namespace

std::unique_ptr<Method> olora_create(config::Options& options) { return create(options, "o-lora", 0.5); }
std::unique_ptr<Method> inclora_create(config::Options& options) { return create(options, "inclora", 0.0); }

}  // namespace retain::method
