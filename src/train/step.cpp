// step.cpp - one optimizer step (see step.h).
#include "train/step.h"

namespace retain::train {

StepResult train_step(model::Model& model, method::Method& method, AdamW& optimizer,
                      const std::function<model::Batch(int64_t)>& micro_batch, int64_t accumulation, double lr,
                      double clip_norm, const std::function<void(double)>& check_loss) {
  StepResult result;
  for (int64_t a = 0; a < accumulation; ++a) {
    const auto batch = micro_batch(a);
    result.tokens += batch.attention_mask.defined() ? batch.attention_mask.sum().item<int64_t>() : batch.labels.size(0);
    auto out = model.forward(batch);
    auto loss = out.loss;
    auto penalty = method.penalty(model, batch, out);
    if (penalty.defined()) loss = loss + penalty;
    const double value = loss.item<double>();
    if (check_loss) check_loss(value);
    result.loss += value / static_cast<double>(accumulation);
    (loss / static_cast<double>(accumulation)).backward();
  }
  method.after_backward(model);
  result.grad_norm = clip_grad_norm(optimizer.groups(), clip_norm);
  method.before_step(model);
  optimizer.step(lr);
  method.after_step(model);
  optimizer.zero_grad();
  return result;
}

}  // namespace retain::train
