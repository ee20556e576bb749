// adamw-cpu.h - AdamW's update of contiguous float32 CPU parameters in one pass over memory each
// (per operator the update reads and writes the state eight times): torch's fused kernel where
// libtorch has it (2.4+, what torch.optim.AdamW(fused=True) runs), else retain's own loop with the
// same formula (libtorch 1.13, Debian's).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace retain::optim {

struct AdamWScalars {
  double lr, beta1, beta2, eps, weight_decay;
};

// Updates params[i], exp_avgs[i] and exp_avg_sqs[i] in place from grads[i], steps[i] being
// parameter i's step count after this update (1 for the first). Every tensor contiguous float32 on
// the CPU, the four of each parameter of one size.
void adamw_update_cpu(std::vector<torch::Tensor>& params, std::vector<torch::Tensor>& grads,
                      std::vector<torch::Tensor>& exp_avgs, std::vector<torch::Tensor>& exp_avg_sqs,
                      const std::vector<double>& steps, const AdamWScalars& s);

}  // namespace retain::optim
