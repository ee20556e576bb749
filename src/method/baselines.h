// baselines.h - the baselines that belong to the harness: SeqFT (sequential fine-tuning), experience
// replay, and joint multi-task training (the upper bound).
#pragma once

#include "method/method.h"

namespace retain::method {

class SeqFT : public Method {
 public:
  std::string name() const override { return "seqft"; }
};

// Experience replay: for task t, a fixed `fraction` of every earlier task's training examples
// (the first ones of that task's seeded order, so the buffer is the same after a resume) is mixed
// into task t's training set and shuffled with it.
class Replay : public Method {
 public:
  explicit Replay(double fraction) : fraction_(fraction) {}
  std::string name() const override { return "replay"; }
  std::vector<ExampleRef> training_examples(int64_t index, const std::vector<int64_t>& train_sizes) override;

 private:
  double fraction_;
};

// Joint multi-task training over all tasks at once (the usual upper bound): one stage over the
// union of every task's training examples, then one evaluation row.
class Joint : public Method {
 public:
  std::string name() const override { return "joint"; }
  bool trains_jointly() const override { return true; }
};

std::unique_ptr<Method> seqft_create(config::Options& options);
std::unique_ptr<Method> replay_create(config::Options& options);
std::unique_ptr<Method> joint_create(config::Options& options);

}  // namespace retain::method
