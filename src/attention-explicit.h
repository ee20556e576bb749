// attention-explicit.h - softmax(q·kᵀ·scale + mask)·v as one autograd node, for libtorch builds
// without scaled_dot_product_attention (1.13, Debian's). Written as separate operators the formula
// runs seven kernels forward (two batched products, the scale, the mask, softmax, the reshapes'
// copies) and autograd adds the selects and copies of its generic backward; here the forward is one
// batched product that adds the mask and applies the scale (baddbmm), softmax in place and one batched
// product, and the backward four batched products and softmax's own backward. It saves what autograd
// saves: q, k, v and the probabilities.
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
