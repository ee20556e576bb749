// step.h - one optimizer step in the order of method.h, the one place that order is written:
//   for each micro-batch: forward → loss + penalty → backward (scaled by 1/accumulation)
//   → [data-parallel: sum statistics and gradients over the ranks] → after_backward → clip
//   → before_step → AdamW step → after_step → zero the gradients
// The training loop, `retain bench methods` and the method tests all step through here.
#pragma once

#include <functional>

#include "dist/comm.h"
#include "method/method.h"
#include "optim/adamw.h"

namespace retain::train {

struct StepResult {
  double loss = 0;       // mean over the micro-batches, penalty included
  double grad_norm = 0;  // before clipping
  int64_t tokens = 0;    // attended tokens (examples for image batches)
};

// `micro_batch(a)` gives micro-batch a of the step (with data-parallel ranks: this rank's slice of
// it, possibly empty); `check_loss(value)` sees the step's loss before the optimizer changes any
// weight (the loop stops a run on a non-finite one there). With `comm` of several ranks, the
// gradients and the method's step statistics are summed over the ranks after backward, so every
// rank takes the same step; loss and tokens are then those of the global batch.
StepResult train_step(model::Model& model, method::Method& method, optim::AdamW& optimizer,
                      const std::function<model::Batch(int64_t)>& micro_batch, int64_t accumulation, double lr,
                      double clip_norm, const std::function<void(double)>& check_loss = nullptr,
                      dist::Comm* comm = nullptr);

}  // namespace retain::train
