// stages.h - what a run trains, in order: one stage per task (or a single stage of every task for
// joint training), its examples and its length in optimizer steps; and the examples of each
// micro-batch of a stage, a pure function of the seed, the stage and the epoch (data/shuffle.h), so a
// resumed run visits the same batches on any machine and any number of ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/stream-config.h"
#include "method/method.h"

namespace retain::train {

struct Stage {
  std::string name;
  int64_t task = 0;  // the task whose row of R this stage fills
  std::vector<method::ExampleRef> examples;
  int64_t steps = 0;
  int64_t micro_per_epoch = 0;
};

// The stages of a stream of `task_names` whose tasks hold `train_sizes` training examples, with the
// examples `method` trains on; fails naming a task with no training examples, and naming `origin`
// (where the step count was given: the stream file or a --set) when the steps do not fit int64.
std::vector<Stage> plan_stages(const config::TrainConfig& train, method::Method& method,
                               const std::vector<std::string>& task_names, const std::vector<int64_t>& train_sizes,
                               const std::string& origin);

// The optimizer steps of every stage.
int64_t total_steps(const std::vector<Stage>& stages);

// The examples of each micro-batch of one stage: epochs follow each other, each in its own order,
// shuffled once when the epoch is first met.
class StageBatches {
 public:
  StageBatches(const Stage& stage, int64_t stage_index, int64_t batch_size, uint64_t seed);
  std::vector<method::ExampleRef> micro_batch(int64_t micro);

 private:
  const Stage& stage_;
  int64_t stage_index_, batch_size_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t order_epoch_ = -1;
};

}  // namespace retain::train
