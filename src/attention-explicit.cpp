#include "attention-explicit.h"

namespace retain {
namespace {

using torch::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// softmax(mask + scale·q·kᵀ) over [B·H, T, S]: one product that adds the mask, softmax in place.
Tensor probabilities(const Tensor& q3, const Tensor& k3, const Tensor& mask, int64_t batch, double scale) {
  const auto heads = q3.size(0) / batch, queries = q3.size(1), keys = k3.size(1);
  Tensor scores;
  if (!mask.defined()) {
    scores = at::bmm(q3, k3.transpose(1, 2)).mul_(scale);
  } else {
    // The mask broadcast into a contiguous [B·H, T, S] tensor of its own (one copy, whatever the
    // mask's layout: T5's bias is a permuted view), and the product added to it in place.
    scores = at::empty({batch * heads, queries, keys}, q3.options());
    scores.view({batch, heads, queries, keys}).copy_(mask);
    scores.baddbmm_(q3, k3.transpose(1, 2), 1.0, scale);
  }
  return at::_softmax_out(scores, scores, -1, false);
}

// Saves q, k, v and the mask, not the probabilities ([B·H, T, S] per layer: 4.5 GB over SmolLM2's 30
// layers at 4 x 1024 tokens): the backward computes them again, as fused attention kernels do.
struct AttentionNode : torch::autograd::Function<AttentionNode> {
  static Tensor forward(AutogradContext* ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                        const c10::optional<Tensor>& mask, double scale) {
    const auto batch = q.size(0), heads = q.size(1), queries = q.size(2), keys = k.size(2);
    auto q3 = q.reshape({batch * heads, queries, q.size(3)});
    auto k3 = k.reshape({batch * heads, keys, k.size(3)});
    auto v3 = v.reshape({batch * heads, keys, v.size(3)});
    const auto mask_or_none = mask.has_value() ? *mask : Tensor();
    auto out = at::bmm(probabilities(q3, k3, mask_or_none, batch, scale), v3);
    ctx->save_for_backward({q3, k3, v3, mask_or_none});
    ctx->saved_data["scale"] = scale;
    return out.view({batch, heads, queries, v.size(3)});
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &q3 = saved[0], &k3 = saved[1], &v3 = saved[2], &mask = saved[3];
    const double scale = ctx->saved_data["scale"].toDouble();
    const auto out_sizes = grads[0].sizes().vec();
    const auto probs = probabilities(q3, k3, mask, out_sizes[0], scale);
    auto grad_out = grads[0].reshape({q3.size(0), q3.size(1), v3.size(2)});
    auto grad_v = at::bmm(probs.transpose(1, 2), grad_out);
    auto grad_probs = at::bmm(grad_out, v3.transpose(1, 2));
    // The gradient of the scaled scores, times the scale: that of q·kᵀ.
    auto grad_scores = at::_softmax_backward_data(grad_probs, probs, -1, probs.scalar_type()).mul_(scale);
    auto grad_q = at::bmm(grad_scores, k3);
    auto grad_k = at::bmm(grad_scores.transpose(1, 2), q3);
    const std::vector<int64_t> kv_sizes = {out_sizes[0], out_sizes[1], k3.size(1), k3.size(2)};
    return {grad_q.view({out_sizes[0], out_sizes[1], q3.size(1), q3.size(2)}), grad_k.view(kv_sizes),
            grad_v.view({out_sizes[0], out_sizes[1], v3.size(1), v3.size(2)}), Tensor(), Tensor()};
  }
};

}  // namespace

bool attention_explicit_applies(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask) {
  const bool float32 = q.scalar_type() == torch::kFloat && k.scalar_type() == torch::kFloat &&
                       v.scalar_type() == torch::kFloat && (!mask.defined() || mask.scalar_type() == torch::kFloat);
  const bool shapes = q.dim() == 4 && k.dim() == 4 && v.dim() == 4 && k.size(0) == q.size(0) &&
                      k.size(1) == q.size(1) && k.size(3) == q.size(3) && v.size(0) == k.size(0) &&
                      v.size(1) == k.size(1) && v.size(2) == k.size(2);
  return float32 && shapes && !(mask.defined() && mask.requires_grad());
}

Tensor attention_explicit(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale) {
  // An undefined tensor cannot be an autograd input; an empty optional can.
  return AttentionNode::apply(q, k, v, mask.defined() ? c10::optional<Tensor>(mask) : c10::nullopt, scale);
}

}  // namespace retain
