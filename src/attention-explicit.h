// attention-explicit.h - softmax(q·kᵀ·scale + mask)·v as one autograd node, for libtorch builds
// without scaled_dot_product_attention (1.13, Debian's). Written as separate operators, the formula
// makes a [B·H, T, S] tensor for the product, the scale, the mask and softmax each, autograd's generic
// backward adds its own, and autograd keeps the probabilities for the backward. Here the forward is one
// batched product that adds the mask and applies the scale (baddbmm), softmax in place and one batched
// product; the backward computes the probabilities again the same way, then four batched products and
// softmax's own backward. It keeps q, k, v and the mask, as fused attention kernels do.
#pragma once

#include <torch/torch.h>

namespace retain {

// Whether attention_explicit() takes q, k, v and mask: float32 all, q [B, H, T, D], k and v
// [B, H, S, D] (v's last size may differ), and a mask that needs no gradient (T5's learned position
// bias does). Otherwise (and under autocast) the caller writes the formula as separate operators.
bool attention_explicit_applies(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask);

// softmax(q·kᵀ·scale + mask, -1)·v, [B, H, T, D]; mask additive, broadcastable to [B, H, T, S], or
// undefined. Gradients for q, k and v.
torch::Tensor attention_explicit(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 const torch::Tensor& mask, double scale);

}  // namespace retain
