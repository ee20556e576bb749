// step.cpp - one optimizer step (see step.h).
#include "train/step.h"

#include "dist/data-parallel.h"
#include "dist/zero.h"

namespace retain::train {

namespace {

bool empty(const model::Batch& batch) { return !batch.input_ids.defined() && !batch.pixel_values.defined(); }

}  // namespace

StepResult train_step(model::Model& model, method::Method& method, optim::AdamW& optimizer,
                      const std::function<model::Batch(int64_t)>& micro_batch, int64_t accumulation, double lr,
                      double clip_norm, const std::function<void(double)>& check_loss, dist::Comm* comm) {
  const bool parallel = comm != nullptr && comm->distributed();
  StepResult result;
  double tokens = 0;
  for (int64_t a = 0; a < accumulation; ++a) {
    const auto batch = micro_batch(a);
    // With several ranks, each one's loss is weighted by its share of the global micro-batch's
    // loss items, so the gradients summed over the ranks are those of the whole micro-batch.
    double share = 1;
    if (parallel) {
      const auto items = empty(batch) ? 0 : model.loss_items(batch);
      auto total = torch::tensor({static_cast<double>(items)}, torch::kDouble);
      comm->sum_(total, "loss items");
      share = total.item<double>() > 0 ? static_cast<double>(items) / total.item<double>() : 0;
    }
    if (empty(batch)) continue;
    tokens += static_cast<double>(batch.attention_mask.defined() ? batch.attention_mask.sum().item<int64_t>()
                                                                 : batch.labels.size(0));
    auto out = model.forward(batch);
    // Every rank adds the method's penalty at its share too: one that depends on the weights only
    // sums to itself over the ranks, and one that depends on the batch (LoRA⁻'s triplet loss,
    // TreeLoRA's regulariser, scaled by the task loss) to its value on the whole micro-batch.
    auto loss = out.loss;
    auto penalty = method.penalty(model, batch, out);
    if (penalty.defined()) loss = loss + penalty;
    if (parallel) loss = loss * share;
    result.loss += loss.item<double>() / static_cast<double>(accumulation);
    (loss / static_cast<double>(accumulation)).backward();
  }
  if (parallel) {
    for (auto& statistic : method.step_statistics()) comm->sum_(statistic, "method statistics");
    std::vector<double> totals{result.loss, tokens};
    dist::sum_gradients(*comm, optimizer.params(), totals);
    result.loss = totals[0];
    tokens = totals[1];
  }
  result.tokens = static_cast<int64_t>(tokens);
  if (check_loss) check_loss(result.loss);
  method.after_backward(model);
  result.grad_norm = optim::clip_grad_norm(optimizer.groups(), clip_norm);
  method.before_step(model);
  optimizer.step(lr);
  if (parallel && !optimizer.owners().empty()) dist::zero_broadcast(*comm, optimizer);  // ZeRO-1
  method.after_step(model);
  optimizer.zero_grad();
  return result;
}

}  // namespace retain::train
