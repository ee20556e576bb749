// step.h - one optimizer step in the order of method.h, the one place that order is written:
//   for each micro-batch: forward → loss + penalty → backward (scaled by 1/accumulation)
//   → after_backward → clip → before_step → AdamW step → after_step → zero the gradients
// The training loop, `retain bench methods` and the method tests all step through here.
#pragma once

#include <functional>

#include "method/method.h"
#include "train/adamw.h"

namespace retain::train {

struct StepResult {
  double loss = 0;       // mean over the micro-batches, penalty included
  double grad_norm = 0;  // before clipping
  int64_t tokens = 0;    // attended tokens (examples for image batches)
};

// `micro_batch(a)` gives micro-batch a of the step; `check_loss(value)` sees each micro-batch's
// loss before its backward (the loop stops a run on a non-finite one there).
StepResult train_step(model::Model& model, method::Method& method, AdamW& optimizer,
                      const std::function<model::Batch(int64_t)>& micro_batch, int64_t accumulation, double lr,
                      double clip_norm, const std::function<void(double)>& check_loss = nullptr);

}  // namespace retain::train
