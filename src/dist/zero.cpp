// zero.cpp - see zero.h.
#include "dist/zero.h"

namespace retain::dist {

std::vector<int64_t> zero_owners(const std::vector<torch::Tensor>& params, int64_t ranks) {
  std::vector<int64_t> load(ranks, 0), owners;
  for (const auto& p : params) {
    const auto rank = std::min_element(load.begin(), load.end()) - load.begin();
    owners.push_back(rank);
    load[rank] += p.numel();
  }
  return owners;
}

void zero_shard(Comm& comm, train::AdamW& optimizer) {
  optimizer.shard(zero_owners(optimizer.params(), comm.size()), comm.rank());
}

void zero_broadcast(Comm& comm, const train::AdamW& optimizer) {
  torch::NoGradGuard no_grad;
  const auto params = optimizer.params();
  const auto names = optimizer.names();
  for (size_t i = 0; i < params.size(); ++i) {
    auto p = params[i];
    comm.broadcast_(p, optimizer.owners()[i], "parameter " + names[i]);
  }
}

io::TensorMap zero_gather_state(Comm& comm, const train::AdamW& optimizer) {
  const auto params = optimizer.params();
  const auto names = optimizer.names();
  io::TensorMap out;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto owner = optimizer.owners()[i];
    auto moments = optimizer.moments(names[i]);
    auto step = torch::tensor({moments.step}, torch::kDouble);
    comm.broadcast_(step, owner, "optimizer step of " + names[i]);
    if (step.item<double>() == 0) continue;  // never updated
    for (auto [key, tensor] : {std::pair<const char*, torch::Tensor*>{"exp_avg.", &moments.exp_avg},
                               std::pair<const char*, torch::Tensor*>{"exp_avg_sq.", &moments.exp_avg_sq}}) {
      auto value = tensor->defined() ? tensor->detach().clone() : torch::zeros_like(params[i]);
      comm.broadcast_(value, owner, std::string("optimizer ") + key + names[i]);
      out.emplace(key + names[i], value.cpu().contiguous());
    }
    out.emplace("step." + names[i], torch::tensor(step.item<double>(), torch::kFloat64));
  }
  return out;
}

}  // namespace retain::dist
