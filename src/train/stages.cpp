// stages.cpp - see stages.h.
#include "train/stages.h"

#include <algorithm>
#include <numeric>

#include "data/shuffle.h"
#include "error.h"

namespace retain::train {

std::vector<Stage> plan_stages(const config::TrainConfig& train, method::Method& method,
                               const std::vector<std::string>& task_names, const std::vector<int64_t>& train_sizes,
                               const std::string& origin) {
  std::vector<Stage> stages;
  const auto T = static_cast<int64_t>(task_names.size());
  if (method.trains_jointly()) {
    Stage all{"joint", T - 1, {}, 0, 0};
    for (int64_t t = 0; t < T; ++t) {
      auto refs = method.training_examples(t, train_sizes);
      all.examples.insert(all.examples.end(), refs.begin(), refs.end());
    }
    stages.push_back(std::move(all));
  } else {
    for (int64_t t = 0; t < T; ++t)
      stages.push_back({task_names[t], t, method.training_examples(t, train_sizes), 0, 0});
  }
  // Steps count micro-batches (steps x grad_accum) and add up over the stages in int64.
  int64_t total = 0;
  for (auto& stage : stages) {
    const auto n = static_cast<int64_t>(stage.examples.size());
    if (n == 0) fail("run", "task '", stage.name, "' has no training examples");
    stage.micro_per_epoch = (n + train.batch_size - 1) / train.batch_size;
    int64_t epoch_micro = 0, micro = 0;
    const bool overflow = train.max_steps > 0
                              ? __builtin_mul_overflow(train.max_steps, train.grad_accum, &micro)
                              : __builtin_mul_overflow(train.epochs, stage.micro_per_epoch, &epoch_micro);
    stage.steps = train.max_steps > 0 ? train.max_steps : std::max<int64_t>(1, epoch_micro / train.grad_accum);
    if (overflow || __builtin_add_overflow(total, stage.steps, &total)) {
      fail("config", origin, ": train.max_steps = ", train.max_steps, ", train.epochs = ", train.epochs,
           ": the stream's optimizer steps do not fit a 64-bit count");
    }
  }
  return stages;
}

int64_t total_steps(const std::vector<Stage>& stages) {
  int64_t total = 0;
  for (const auto& stage : stages) total += stage.steps;
  return total;
}

StageBatches::StageBatches(const Stage& stage, int64_t stage_index, int64_t batch_size, uint64_t seed)
    : stage_(stage), stage_index_(stage_index), batch_size_(batch_size), seed_(seed) {}

std::vector<method::ExampleRef> StageBatches::micro_batch(int64_t micro) {
  const auto n = static_cast<int64_t>(stage_.examples.size());
  const auto epoch = micro / stage_.micro_per_epoch;
  const auto begin = (micro % stage_.micro_per_epoch) * batch_size_;
  if (epoch != order_epoch_) {
    // A permutation of 0..n-1 from (seed, stage, epoch), the same on every machine.
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0);
    data::seeded_shuffle(
        order_, data::derive_seed(seed_, "stage " + std::to_string(stage_index_) + " epoch " + std::to_string(epoch)));
    order_epoch_ = epoch;
  }
  std::vector<method::ExampleRef> refs;
  for (int64_t i = begin; i < std::min(n, begin + batch_size_); ++i) refs.push_back(stage_.examples[order_[i]]);
  return refs;
}

}  // namespace retain::train
