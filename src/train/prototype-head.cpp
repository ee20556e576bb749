// prototype-head.cpp - see prototype-head.h.
#include "train/prototype-head.h"

#include <limits>
#include <string>

#include "error.h"

namespace retain::train {

torch::Tensor unit_rows(const torch::Tensor& x) { return x / (x.norm(2, -1, true) + 1e-8); }

void PrototypeHead::add_classes(model::Model& model, const BatchVisitor& for_each_batch) {
  torch::NoGradGuard no_grad;
  const bool training = model.is_training();
  model.eval();
  std::map<int64_t, std::pair<torch::Tensor, int64_t>> sums;
  for_each_batch(
      [&](const model::Batch& batch) {
        auto input = batch;
        input.labels = torch::Tensor();
        auto features = model.forward(input).features;
        if (!features.defined()) fail("train", "[train] head = \"prototype\": the model gives no features to average");
        features = features.to(torch::kFloat).cpu();
        const auto labels = batch.labels.cpu();
        const auto classes = std::get<0>(torch::_unique(labels));
        for (int64_t i = 0; i < classes.size(0); ++i) {
          const auto mask = labels.eq(classes[i]);
          auto& [sum, count] = sums[classes[i].item<int64_t>()];
          auto part = features.index({mask}).sum(0);
          sum = sum.defined() ? sum + part : part;
          count += mask.sum().item<int64_t>();
        }
      },
      0);
  for (auto& [label, entry] : sums) means_[label] = entry.first / static_cast<double>(entry.second);
  if (training) model.train();
}

torch::Tensor PrototypeHead::normalised() const {
  if (means_.empty()) return {};
  std::vector<torch::Tensor> rows;
  for (const auto& [label, mean] : means_) rows.push_back(mean);
  return unit_rows(torch::stack(rows));
}

torch::Tensor PrototypeHead::logits(const torch::Tensor& features, int64_t num_labels) const {
  auto f = unit_rows(features.to(torch::kFloat).cpu());
  auto out = torch::full({f.size(0), num_labels}, -std::numeric_limits<float>::infinity());
  if (means_.empty()) return out;
  auto distances = torch::cdist(f, normalised()).pow(2);
  int64_t column = 0;
  for (const auto& [label, mean] : means_) {
    if (label >= 0 && label < num_labels) out.select(1, label).copy_(-distances.select(1, column));
    ++column;
  }
  return out;
}

io::TensorMap PrototypeHead::state() const {
  io::TensorMap state;
  for (const auto& [label, mean] : means_) state["prototype/" + std::to_string(label)] = mean.contiguous();
  return state;
}

void PrototypeHead::load_state(const io::TensorMap& state) {
  means_.clear();
  for (const auto& [name, tensor] : state) {
    if (name.rfind("prototype/", 0) != 0) continue;
    means_[std::stoll(name.substr(10))] = tensor.to(torch::kFloat).clone();
  }
}

}  // namespace retain::train
