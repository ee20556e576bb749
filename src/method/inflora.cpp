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

void InfLora::attach(model::Model& model) {
  if (settings_.targets.empty()) settings_.targets = lora_key_value_targets(model);
  LoraMethod::attach(model);
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

torch::Tensor inflora_memory_grow(const torch::Tensor& C, const torch::Tensor& M, double epsilon, int64_t room,
                                  InfLoraEnergy energy) {
  const auto in = C.size(0);
  auto P = torch::eye(in, C.options()) - torch::matmul(M, M.t());
  // The total energy, the part already inside the memory, and the new directions with their energies.
  double total = 0, kept = 0;
  torch::Tensor values, vectors;
  if (energy == InfLoraEnergy::Squared) {
    // update_DualGPM: svd of the covariance outside the memory, energies σ², kept = total − the rest.
    const auto outside = torch::matmul(P, C);
    total = C.pow(2).sum().item<double>();
    kept = total - outside.pow(2).sum().item<double>();
    torch::Tensor S;
    std::tie(vectors, S, std::ignore) = compat::svd_thin(outside);
    values = S.pow(2);
  } else {
    total = C.trace().item<double>();
    kept = torch::matmul(M.t(), torch::matmul(C, M)).trace().item<double>();
    std::tie(values, vectors) = compat::eigh_descending(torch::matmul(P, torch::matmul(C, P)));
  }
  if (!(total > 0)) return M;
  int64_t add = 0;
  double held = kept;
  auto v = values.clamp_min(0);
  // Directions with (numerically) no energy are never added: they need not lie outside span(M).
  while (add < room && held / total < epsilon && v[add].item<double>() > 1e-9 * total) held += v[add++].item<double>();
  return add > 0 ? torch::cat({M, vectors.narrow(1, 0, add)}, 1) : M;
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
    M = inflora_memory_grow(C, M, epsilon, in - settings_.rank - M.size(1), energy_);
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
  // The official code: key and value, rank 10, B·A unscaled.
  LoraSettings defaults;
  defaults.rank = 10;
  defaults.alpha = static_cast<double>(options.get_int("rank", defaults.rank));  // B·A unscaled at any rank
  auto settings = lora_settings_read(options, "inflora", defaults);
  const double lambda_begin = options.get_double("lambda_begin", 0.95);
  const double lambda_end = options.get_double("lambda_end", 1.0);
  const int64_t calibration_batches = options.get_int("calibration_batches", 0);
  const auto energy = options.get_word("energy", InfLoraEnergy::Squared);
  if (!(lambda_begin > 0 && lambda_begin <= lambda_end && lambda_end <= 1)) {
    fail("method", "inflora: need 0 < lambda_begin <= lambda_end <= 1, got ", lambda_begin, " and ", lambda_end);
  }
  if (calibration_batches < 0) fail("method", "inflora: calibration_batches must be >= 0 (0 = all)");
  options.reject_unused("inflora");
  return std::make_unique<InfLora>(std::move(settings), lambda_begin, lambda_end, calibration_batches, energy);
}

}  // namespace retain::method
