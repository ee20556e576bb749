// param-group.h - what the optimizer updates: named parameters trained together under one weight
// decay and learning-rate multiplier. Methods hand these to the optimizer (method.h trainable).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace retain::optim {

struct ParamGroup {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params;
  double weight_decay = 0;
  double lr_scale = 1;
  bool sgd = false;  // plain SGD, p −= lr·lr_scale·g (no moments, no weight decay), instead of AdamW
};

}  // namespace retain::optim
