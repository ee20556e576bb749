// prototype-head.h - the nearest-class-mean head of exemplar-free class-incremental learning
// ([train] head = "prototype", LoRA⁻ §4.5): after each task, the mean final [CLS] feature of each of
// its classes over its training images is stored for good; a test image takes the class whose
// L2-normalised prototype is nearest (squared Euclidean distance) to its L2-normalised feature.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <map>

#include "io/safetensors.h"
#include "model/model.h"

namespace retain::train {

class PrototypeHead {
 public:
  using BatchVisitor = std::function<void(const std::function<void(const model::Batch&)>& visit, int64_t limit)>;

  // Stores (or replaces) the prototypes of the classes met in `for_each_batch`'s batches: the mean
  // of their features under `model`, without gradients.
  void add_classes(model::Model& model, const BatchVisitor& for_each_batch);
  bool empty() const { return means_.empty(); }
  // The unit-length prototypes of the stored classes, [classes, hidden] (undefined when empty).
  torch::Tensor normalised() const;
  // Logits [B, num_labels] for features [B, hidden]: −‖f̂ − p̂‖² for stored classes, −inf elsewhere.
  torch::Tensor logits(const torch::Tensor& features, int64_t num_labels) const;

  io::TensorMap state() const;  // "prototype/<class>" -> [hidden]
  void load_state(const io::TensorMap& state);

 private:
  std::map<int64_t, torch::Tensor> means_;  // class -> [hidden] float, on the CPU
};

// x / (‖x‖₂ + 1e-8) along the last dimension.
torch::Tensor unit_rows(const torch::Tensor& x);

}  // namespace retain::train
