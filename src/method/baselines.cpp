// baselines.cpp - the harness's baselines (see baselines.h): SeqFT, plain sequential full
// fine-tuning, the lower bound every continual-learning method is measured against; experience
// replay; joint multi-task training, the upper bound.
#include "method/baselines.h"

#include <cmath>

#include "error.h"

namespace retain::method {

std::unique_ptr<Method> seqft_create(config::Options& options) {
  options.reject_unused("seqft");
  return std::make_unique<SeqFT>();
}

std::vector<ExampleRef> Replay::training_examples(int64_t index, const std::vector<int64_t>& train_sizes) {
  auto refs = Method::training_examples(index, train_sizes);
  for (int64_t earlier = 0; earlier < index; ++earlier) {
    const auto kept = static_cast<int64_t>(std::llround(fraction_ * static_cast<double>(train_sizes[earlier])));
    for (int64_t i = 0; i < kept; ++i) refs.push_back({earlier, i});
  }
  return refs;
}

std::unique_ptr<Method> replay_create(config::Options& options) {
  // Fraction of each earlier task's training set kept in the buffer; 1 % to 10 % is the usual range
  // in the LLM continual-learning papers (TRACE replays 1 % ... 10 %).
  const double fraction = options.get_double("fraction", 0.1);
  if (!(fraction > 0 && fraction <= 1)) fail("method", "replay: fraction must be in (0, 1], got ", fraction);
  options.reject_unused("replay");
  return std::make_unique<Replay>(fraction);
}

std::unique_ptr<Method> joint_create(config::Options& options) {
  options.reject_unused("joint");
  return std::make_unique<Joint>();
}

}  // namespace retain::method
