// selective-lora.cpp - Selective LoRA (see selective-lora.h).
#include "method/selective-lora.h"

#include <algorithm>
#include <cctype>

#include "data/shuffle.h"
#include "error.h"

namespace retain::method {

std::string SelectiveLora::gate_of(const std::string& layer_name) const {
  if (selective_.granularity == Granularity::Matrix) return layer_name;
  size_t begin = 0;
  while (begin < layer_name.size()) {
    auto end = layer_name.find('.', begin);
    if (end == std::string::npos) end = layer_name.size();
    const auto part = layer_name.substr(begin, end - begin);
    if (!part.empty() && std::all_of(part.begin(), part.end(), [](unsigned char c) { return std::isdigit(c); })) {
      return layer_name.substr(0, end);
    }
    begin = end + 1;
  }
  return layer_name;  // not inside a numbered block: a gate of its own
}

void SelectiveLora::attach_scores() {
  for (auto& [layer_name, layer] : layers_) {
    auto* adapter = layer->adapter_find(trainable_);
    if (adapter == nullptr) continue;
    auto& score = scores_[gate_of(layer_name)];
    if (!score.defined()) {
      score = torch::full({}, selective_.score_init, adapter->A.options()).set_requires_grad(true);
    }
    adapter->score = score;
    adapter->threshold = selective_.threshold;
  }
}

void SelectiveLora::begin_task(model::Model& /*model*/, const TaskContext& task) {
  const auto name = task.name;
  adapter_add_everywhere(name, [&](const std::string& layer_name, nn::LinearImpl& layer) {
    return kaiming_uniform_A(layer_name, layer, data::derive_seed(task.seed, "selective-lora " + name));
  });
  scores_.clear();
  attach_scores();
  steps_ = 0;
  warmup_steps_ = std::llround(selective_.warmup_ratio * static_cast<double>(task.steps));
  task_lr_ = task.lr;
}

std::vector<ParamGroup> SelectiveLora::trainable(model::Model& model, double weight_decay) {
  auto groups = LoraMethod::trainable(model, weight_decay);
  ParamGroup gates{{}, {}, 0, 1};
  if (selective_.score_optimizer == ScoreOptimizer::Sgd) {
    if (!(task_lr_ > 0)) fail("method", "selective-lora: score_optimizer = \"sgd\" needs the run's learning rate");
    gates.sgd = true;
    gates.lr_scale = selective_.score_lr / task_lr_;
  }
  for (auto& [gate, score] : scores_) {
    gates.names.push_back("gate_score." + gate);
    gates.params.push_back(score);
  }
  if (!gates.params.empty()) groups.push_back(std::move(gates));
  return groups;
}

torch::Tensor SelectiveLora::penalty(model::Model& /*model*/, const model::Batch& /*batch*/,
                                     const model::Output& /*out*/) {
  if (scores_.empty() || steps_ < warmup_steps_ || selective_.sparsity == 0) return {};
  std::vector<torch::Tensor> all;
  for (auto& [gate, score] : scores_) all.push_back(score.abs());
  return torch::stack(all).mean() * selective_.sparsity;
}

void SelectiveLora::after_step(model::Model& /*model*/) { ++steps_; }

void SelectiveLora::end_task(model::Model& /*model*/, const TaskContext& /*task*/) {
  int64_t open = 0;
  for (auto& [gate, score] : scores_) open += score.item<double>() >= selective_.threshold ? 1 : 0;
  active_fractions_.push_back(scores_.empty() ? 0.0 : static_cast<double>(open) / static_cast<double>(scores_.size()));
  for (auto& [layer_name, layer] : layers_) {
    auto* adapter = layer->adapter_find(trainable_);
    if (adapter == nullptr || !adapter->score.defined()) continue;
    if (!nn::adapter_gate_open(*adapter)) {
      adapter->active = false;
      closed_.push_back(layer_name + "/" + adapter->name);
    }
    adapter->score = torch::Tensor();
  }
  scores_.clear();
  set_trainable("", true);  // nothing trains between tasks
}

void SelectiveLora::state_extra(MethodState& state) const {
  for (const auto& [gate, score] : scores_) state.tensors["score/" + gate] = score.detach().cpu().reshape({1}).clone();
  state.meta["closed"] = closed_;
  state.meta["active_fractions"] = active_fractions_;
  state.meta["steps"] = steps_;
  state.meta["warmup_steps"] = warmup_steps_;
  state.meta["task_lr"] = task_lr_;  // a resume mid-task skips begin_task
}

void SelectiveLora::load_state_extra(const MethodState& state) {
  closed_ = state.meta.value("closed", std::vector<std::string>{});
  active_fractions_ = state.meta.value("active_fractions", std::vector<double>{});
  steps_ = state.meta.value("steps", int64_t{0});
  warmup_steps_ = state.meta.value("warmup_steps", int64_t{0});
  task_lr_ = state.meta.value("task_lr", 0.0);
  for (auto& [layer_name, layer] : layers_) {
    for (auto& adapter : layer->adapters()) {
      const auto key = layer_name + "/" + adapter.name;
      adapter.active = std::find(closed_.begin(), closed_.end(), key) == closed_.end();
    }
  }
  scores_.clear();
  for (const auto& [name, tensor] : state.tensors) {
    if (name.rfind("score/", 0) != 0) continue;
    auto device = layers_.empty() ? torch::Device(torch::kCPU) : layers_.front().second->weight.device();
    scores_[name.substr(6)] = tensor.reshape({}).to(device).clone().set_requires_grad(true);
  }
  if (!scores_.empty()) attach_scores();
}

std::unique_ptr<Method> selective_lora_create(config::Options& options) {
  auto lora = lora_settings_read(options, "selective-lora");
  SelectiveLoraSettings settings;
  settings.threshold = options.get_double("threshold", settings.threshold);
  settings.score_init = options.get_double("score_init", settings.score_init);
  settings.sparsity = options.get_double("sparsity", settings.sparsity);
  settings.warmup_ratio = options.get_double("warmup_ratio", settings.warmup_ratio);
  settings.granularity = options.get_word("granularity", settings.granularity);
  settings.score_optimizer = options.get_word("score_optimizer", settings.score_optimizer);
  settings.score_lr = options.get_double("score_lr", settings.score_lr);
  if (!(settings.score_lr > 0)) fail("method", "selective-lora: score_lr must be > 0, got ", settings.score_lr);
  if (!(settings.sparsity >= 0)) fail("method", "selective-lora: sparsity must be >= 0, got ", settings.sparsity);
  if (!(settings.warmup_ratio >= 0 && settings.warmup_ratio < 1))
    fail("method", "selective-lora: warmup_ratio must be in [0, 1) (a fraction of each task's steps), got ",
         settings.warmup_ratio);
  options.reject_unused("selective-lora");
  return std::make_unique<SelectiveLora>(std::move(lora), std::move(settings));
}

}  // namespace retain::method
