// zero.cpp - see zero.h.
#include "dist/zero.h"

#include "dist/data-parallel.h"

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

void zero_shard(Comm& comm, optim::AdamW& optimizer) {
  optimizer.shard(zero_owners(optimizer.params(), comm.size()), comm.rank());
}

std::pair<int64_t, int64_t> zero_moment_bytes(const optim::AdamW& optimizer, int64_t rank) {
  const auto params = optimizer.params();
  int64_t here = 0, all = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const auto bytes = 2 * params[i].numel() * static_cast<int64_t>(params[i].element_size());
    all += bytes;
    if (optimizer.owners()[i] == rank) here += bytes;
  }
  return {here, all};
}

void zero_broadcast(Comm& comm, const optim::AdamW& optimizer) {
  const auto params = optimizer.params();
  // Every rank holds the same summed gradients, so all agree on which parameters were updated.
  for (int64_t owner = 0; owner < comm.size(); ++owner) {
    std::vector<torch::Tensor> updated;
    for (size_t i = 0; i < params.size(); ++i) {
      if (optimizer.owners()[i] == owner && params[i].grad().defined()) updated.push_back(params[i]);
    }
    broadcast_tensors(comm, updated, owner, "the parameters updated by rank " + std::to_string(owner));
  }
}

io::TensorMap zero_gather_state(Comm& comm, const optim::AdamW& optimizer) {
  const auto params = optimizer.params();
  const auto names = optimizer.names();
  const auto& owners = optimizer.owners();
  // The step counts: each owner fills in its parameters', the sum gives every rank all of them.
  auto steps = torch::zeros({static_cast<int64_t>(params.size())}, torch::kDouble);
  auto* step = steps.data_ptr<double>();
  for (size_t i = 0; i < params.size(); ++i) {
    if (owners[i] == comm.rank()) step[i] = optimizer.moments(names[i]).step;
  }
  comm.sum_(steps, "optimizer step counts");
  io::TensorMap out;
  for (int64_t owner = 0; owner < comm.size(); ++owner) {
    // This owner's updated parameters; a parameter never updated has no state.
    std::vector<size_t> mine;
    std::vector<torch::Tensor> shapes;
    for (size_t i = 0; i < params.size(); ++i) {
      if (owners[i] == owner && step[i] > 0) mine.push_back(i), shapes.push_back(params[i]);
    }
    // Bucket by bucket, so that no rank ever holds more than one bucket of another's moments.
    for (const auto& [begin, end] : buckets(shapes, kBucketBytes / 2)) {
      std::vector<torch::Tensor> moments;
      std::vector<std::string> keys;
      for (size_t k = begin; k < end; ++k) {
        const auto i = mine[k];
        const auto held = optimizer.moments(names[i]);
        for (const auto& [key, tensor] :
             {std::pair{"exp_avg.", held.exp_avg}, std::pair{"exp_avg_sq.", held.exp_avg_sq}}) {
          moments.push_back(owner == comm.rank() ? tensor : torch::empty_like(params[i]));
          keys.push_back(key + names[i]);
        }
      }
      broadcast_tensors(comm, moments, owner, "the optimizer state kept by rank " + std::to_string(owner));
      if (!comm.leader()) continue;
      // A copy (also on the CPU, where the owner's moments would otherwise be the live ones).
      for (size_t k = 0; k < moments.size(); ++k)
        out.emplace(keys[k], moments[k].detach().to(moments[k].options().device(torch::kCPU), false, true));
      for (size_t k = begin; k < end; ++k)
        out.emplace("step." + names[mine[k]], torch::tensor(step[mine[k]], torch::kFloat64));
    }
  }
  return out;
}

}  // namespace retain::dist
