// inflora.cpp - InfLoRA (see inflora.h).
#include "method/inflora.h"

#include <cmath>

#include "compat.h"
#include "error.h"

namespace retain::method {

torch::Tensor InfLora::memory(const std::string& layer_name) const {
  auto it = memory_.find(layer_name);
  TORCH_CHECK(it != memory_.end(), "inflora: no subspace memory for layer '", layer_name, "'");
  return it->second;
}

void InfLora::begin_task(model::Model& model, const TaskContext& task) {
  auto covariances = input_second_moments(model, task, calibration_batches_);
  train_A_ = false;
  adapter_add_everywhere(task.name, [&](const std::string& layer_name, nn::LinearImpl& /*layer*/) {
    // A = the top-r left singular vectors of (I − M Mᵀ) C, as rows, / √3. They are computed in an
    // orthonormal basis Q of the complement of span(M) (Q Qᵀ = I − M Mᵀ) as Q·svd(Qᵀ C), so A lies
    // outside span(M) to rounding even when the task's inputs leave fewer than r directions there.
    const auto& C = covariances.at(layer_name);
    const auto in = C.size(0);
    auto Q = torch::eye(in, C.options());
    auto it = memory_.find(layer_name);
    if (it != memory_.end() && it->second.size(1) > 0) {
      const auto& M = it->second;
      auto vectors = std::get<1>(compat::eigh_descending(Q - torch::matmul(M, M.t())));
      Q = vectors.narrow(1, 0, in - M.size(1));
    }
    auto U = std::get<0>(compat::svd_thin(torch::matmul(Q.t(), C)));
    return torch::matmul(Q, U.narrow(1, 0, settings_.rank)).t().contiguous() / std::sqrt(3.0);
  });
}

void InfLora::end_task(model::Model& model, const TaskContext& task) {
  auto covariances = input_second_moments(model, task, calibration_batches_);
  const double epsilon = lambda_begin_ + (lambda_end_ - lambda_begin_) * static_cast<double>(task.index) /
                                             static_cast<double>(std::max<int64_t>(1, task.count));
  for (auto& [layer_name, layer] : layers_) {
    const auto& C = covariances.at(layer_name);
    const auto in = C.size(0);
    auto& M = memory_[layer_name];
    if (!M.defined()) M = torch::zeros({in, 0}, C.options());
    const double total = C.trace().item<double>();
    if (!(total > 0)) continue;
    // Energy already inside the memory, then the new directions in order of energy until ε is met.
    const double kept = torch::matmul(M.t(), torch::matmul(C, M)).trace().item<double>();
    auto P = torch::eye(in, C.options()) - torch::matmul(M, M.t());
    auto [values, vectors] = compat::eigh_descending(torch::matmul(P, torch::matmul(C, P)));
    const auto room = in - settings_.rank - M.size(1);
    int64_t add = 0;
    double energy = kept;
    auto v = values.clamp_min(0);
    while (add < room && energy / total < epsilon) energy += v[add++].item<double>();
    if (add > 0) M = torch::cat({M, vectors.narrow(1, 0, add)}, 1);
  }
}

void InfLora::state_extra(MethodState& state) const {
  for (const auto& [layer_name, M] : memory_) state.tensors["memory/" + layer_name] = M.cpu().contiguous();
}

void InfLora::load_state_extra(const MethodState& state) {
  memory_.clear();
  for (auto& [layer_name, layer] : layers_) {
    auto it = state.tensors.find("memory/" + layer_name);
    if (it != state.tensors.end()) memory_[layer_name] = it->second.to(layer->weight.device()).clone();
  }
}

std::unique_ptr<Method> inflora_create(config::Options& options) {
  auto settings = lora_settings_read(options, "inflora");
  const double lambda_begin = options.get_double("lambda_begin", 0.95);
  const double lambda_end = options.get_double("lambda_end", 1.0);
  const int64_t calibration_batches = options.get_int("calibration_batches", 32);
  if (!(lambda_begin > 0 && lambda_begin <= lambda_end && lambda_end <= 1)) {
    fail("method", "inflora: need 0 < lambda_begin <= lambda_end <= 1, got ", lambda_begin, " and ", lambda_end);
  }
  if (calibration_batches < 0) fail("method", "inflora: calibration_batches must be >= 0 (0 = all)");
  options.reject_unused("inflora");
  return std::make_unique<InfLora>(std::move(settings), lambda_begin, lambda_end, calibration_batches);
}

}  // namespace retain::method
