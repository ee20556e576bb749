// loss.cpp - cross-entropy as one autograd node (see loss.h).
#include "nn/loss.h"

#include <algorithm>

namespace retain::nn {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Rows per log-sum-exp pass on the CPU: about 2 MB of logits, so that the pass's temporaries stay in
// the cache and below the heap's mmap threshold instead of making a [rows, classes] tensor of their
// own. A GPU takes all rows at once.
int64_t rows_per_pass(const torch::Tensor& x) {
  if (!x.is_cpu()) return std::max<int64_t>(1, x.size(0));
  return std::max<int64_t>(1, (int64_t{1} << 19) / std::max<int64_t>(1, x.size(1)));
}

// Mean over the counted rows of logsumexp(x) - x[label], rows with label -100 not counted. Keeps the
// float32 logits (those it was given, which the caller's Output holds anyway; a float32 copy of
// others, as log_softmax's output was) and each row's log-sum-exp; the backward writes softmax -
// onehot, scaled, in one tensor. Written as log_softmax, a row slice and nll_loss, autograd makes and
// fills a [rows, classes] tensor for the log-probabilities, for nll_loss's gradient, for
// log_softmax's and for the slice's.
struct CrossEntropyNode : torch::autograd::Function<CrossEntropyNode> {
  static Tensor forward(AutogradContext* ctx, const Tensor& logits, const Tensor& labels) {
    torch::NoGradGuard no_grad;
    const auto classes = logits.size(-1);
    auto x = logits.reshape({-1, classes}).to(torch::kFloat);
    auto y = labels.reshape({-1}).to(x.device());
    TORCH_CHECK(y.size(0) == x.size(0), "cross-entropy: ", x.size(0), " rows of logits, ", y.size(0), " labels");
    auto lse = at::empty({x.size(0)}, x.options());
    const auto step = rows_per_pass(x);
    for (int64_t row = 0; row < x.size(0); row += step) {
      const auto rows = std::min(step, x.size(0) - row);
      auto out = lse.narrow(0, row, rows);
      at::logsumexp_out(out, x.narrow(0, row, rows), {1}, false);
    }
    auto counted = y.ne(kIgnoreIndex);
    auto target = y.clamp_min(0).unsqueeze(1);
    auto count = counted.sum();
    auto loss = (lse - x.gather(1, target).squeeze(1)).masked_fill_(counted.logical_not(), 0).sum() / count;
    ctx->save_for_backward({x, lse, target, counted, count});
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits.scalar_type());
    ctx->saved_data["sizes"] = logits.sizes().vec();
    return loss;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &lse = saved[1], &target = saved[2], &counted = saved[3], &count = saved[4];
    const auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt());
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    // Each counted row's gradient is w·(softmax - onehot), w = dL/dloss / count; the others' zero
    // (with no counted row at all too, as nll_loss's, whose mean is then nan).
    auto weight = counted.to(x.scalar_type()) * (grads[0].to(x.scalar_type()) / count.clamp_min(1));
    Tensor grad;
    if (grads[0].item<double>() > 0) {
      // w·softmax = exp(x - (lse - log w)): no pass of its own for the scale; log 0 = -inf makes the
      // uncounted rows 0.
      grad = at::sub(x, (lse - weight.log()).unsqueeze(1)).exp_();
    } else {
      grad = at::sub(x, lse.unsqueeze(1)).exp_().mul_(weight.unsqueeze(1));
    }
    grad.scatter_add_(1, target, weight.neg().unsqueeze(1));
    return {grad.view(sizes).to(dtype), Tensor()};
  }
};

}  // namespace

torch::Tensor cross_entropy_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return CrossEntropyNode::apply(logits, labels);
}

torch::Tensor causal_lm_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  // The labels moved one position left and -100 at the end, so the logits need no slice.
  const auto t = labels.size(1);
  auto shifted = torch::full_like(labels, kIgnoreIndex);
  shifted.narrow(1, 0, t - 1).copy_(labels.narrow(1, 1, t - 1));
  return nn::cross_entropy_loss(logits, shifted);
}

}  // namespace retain::nn
