// inflora.h - InfLoRA (Liang & Li, CVPR 2024): before each task a new adapter's A is set, and
// frozen, to the top-r directions of the task's layer-input covariance after removing the input
// subspace of earlier tasks; only B trains, so ΔW = B·A leaves earlier tasks' inputs alone. After
// the task, the subspace memory of every target layer grows (GPM) until it holds the fraction
//   ε_t = lambda_begin + (lambda_end − lambda_begin) · t / T
// of the input energy (docs/methods.md §8.5). The memory stays in "remove" mode (a basis of the old
// inputs) at any size; DualGPM's switch to storing the complement past half the width saves memory
// only. It is capped at width − rank so every new A has room.
//
// Defaults follow the official code (liangyanshuo/InfLoRA): adapters on the key and value
// projections, rank 10, ΔW = B·A unscaled (alpha = rank), the covariance over the whole task, and
// energy = "squared": update_DualGPM decomposes the covariance C itself, so its "energy" is Σσ(C)² =
// Σλ². energy = "trace" is GPM's criterion as the paper states it (Σλ, the representation's squared
// singular values), which fills the memory sooner.
#pragma once

#include <map>

#include "config/words.h"
#include "method/lora-family.h"

namespace retain::method {

enum class InfLoraEnergy { Squared, Trace };

}  // namespace retain::method

namespace retain::config {
template <>
struct Words<method::InfLoraEnergy> {
  static constexpr std::pair<method::InfLoraEnergy, std::string_view> list[] = {
      {method::InfLoraEnergy::Squared, "squared"}, {method::InfLoraEnergy::Trace, "trace"}};
};
}  // namespace retain::config

namespace retain::method {

// The memory M [in, m] (orthonormal columns) grown by the top directions of the covariance C outside
// span(M), in order, until it holds the fraction `epsilon` of C's energy or `room` were added.
torch::Tensor inflora_memory_grow(const torch::Tensor& C, const torch::Tensor& M, double epsilon, int64_t room,
                                  InfLoraEnergy energy);

class InfLora : public LoraMethod {
 public:
  InfLora(LoraSettings settings, double lambda_begin, double lambda_end, int64_t calibration_batches,
          InfLoraEnergy energy)
      : LoraMethod(std::move(settings)),
        lambda_begin_(lambda_begin),
        lambda_end_(lambda_end),
        calibration_batches_(calibration_batches),
        energy_(energy) {}
  std::string name() const override { return "inflora"; }
  // Targets the key and value projections unless `targets` says otherwise.
  void attach(model::Model& model) override;
  void begin_task(model::Model& model, const TaskContext& task) override;
  void end_task(model::Model& model, const TaskContext& task) override;

  // The stored basis of earlier tasks' inputs to `layer_name`, [in, m] orthonormal columns (m may be 0).
  torch::Tensor memory(const std::string& layer_name) const;

 protected:
  void state_extra(MethodState& state) const override;
  void load_state_extra(const MethodState& state) override;

 private:
  double lambda_begin_, lambda_end_;
  int64_t calibration_batches_;
  InfLoraEnergy energy_;
  std::map<std::string, torch::Tensor> memory_;
};

std::unique_ptr<Method> inflora_create(config::Options& options);

}  // namespace retain::method
