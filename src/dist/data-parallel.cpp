// data-parallel.cpp - see data-parallel.h.
#include "dist/data-parallel.h"

#include "error.h"

namespace retain::dist {

std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t rank, int64_t size) {
  const int64_t chunk = (n + size - 1) / size;
  const int64_t begin = std::min(n, rank * chunk);
  return {begin, std::min(n, begin + chunk)};
}

void broadcast_model(Comm& comm, model::Model& model) {
  if (!comm.distributed()) return;
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) comm.broadcast_(item.value(), 0, "parameter " + item.key());
  for (auto& item : model.named_buffers()) comm.broadcast_(item.value(), 0, "buffer " + item.key());
}

namespace {

// One bucket: gradients (zeros where this rank has none), one presence flag per parameter, extras.
void sum_bucket(Comm& comm, const std::vector<torch::Tensor>& params, size_t begin, size_t end,
                std::vector<double>* extras) {
  std::vector<torch::Tensor> flat;
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(params[begin].device());
  for (size_t i = begin; i < end; ++i) {
    const auto& grad = params[i].grad();
    flat.push_back(grad.defined() ? grad.detach().to(torch::kFloat).reshape({-1}) : torch::zeros({params[i].numel()}, options));
  }
  std::vector<float> tail;
  for (size_t i = begin; i < end; ++i) tail.push_back(params[i].grad().defined() ? 1.0f : 0.0f);
  if (extras != nullptr) {
    for (double value : *extras) tail.push_back(static_cast<float>(value));
  }
  flat.push_back(torch::tensor(tail, options));
  auto buffer = torch::cat(flat);
  comm.sum_(buffer, "gradients");
  int64_t offset = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto n = params[i].numel();
    const bool any = buffer[static_cast<int64_t>(buffer.numel() - tail.size() + (i - begin))].item<float>() > 0;
    auto& grad = params[i].mutable_grad();
    if (any) {
      auto summed = buffer.narrow(0, offset, n).view(params[i].sizes()).to(params[i].scalar_type());
      if (grad.defined()) {
        grad.copy_(summed);
      } else {
        grad = summed.clone();
      }
    }
    offset += n;
  }
  if (extras != nullptr) {
    const auto start = buffer.numel() - static_cast<int64_t>(extras->size());
    auto values = buffer.narrow(0, start, static_cast<int64_t>(extras->size())).to(torch::kDouble).cpu();
    for (size_t k = 0; k < extras->size(); ++k) (*extras)[k] = values[static_cast<int64_t>(k)].item<double>();
  }
}

}  // namespace

void sum_gradients(Comm& comm, const std::vector<torch::Tensor>& params, std::vector<double>& extras,
                   int64_t bucket_bytes) {
  if (!comm.distributed()) return;
  torch::NoGradGuard no_grad;
  size_t begin = 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    bytes += params[i].numel() * 4;
    const bool last = i + 1 == params.size();
    if (bytes >= bucket_bytes || last) {
      sum_bucket(comm, params, begin, i + 1, last ? &extras : nullptr);
      begin = i + 1;
      bytes = 0;
    }
  }
  if (params.empty()) {  // nothing trains: still sum the extras
    auto values = torch::tensor(std::vector<double>(extras.begin(), extras.end()), torch::kDouble);
    comm.sum_(values, "step totals");
    for (size_t k = 0; k < extras.size(); ++k) extras[k] = values[static_cast<int64_t>(k)].item<double>();
  }
}

void check_same_weights(Comm& comm, model::Model& model, const std::string& when) {
  if (!comm.distributed()) return;
  torch::NoGradGuard no_grad;
  // A float64 checksum per parameter; max(x) == -max(-x) on every rank iff all ranks agree.
  std::vector<torch::Tensor> sums;
  for (auto& item : model.named_parameters()) {
    const auto& p = item.value();
    sums.push_back((p.to(torch::kDouble) * torch::arange(1, p.numel() + 1, p.options().dtype(torch::kDouble)).view(p.sizes()) / p.numel()).sum());
  }
  if (sums.empty()) return;
  auto local = torch::stack(sums).cpu();
  auto high = local.clone(), low = -local;
  comm.max_(high, "weight checksums");
  comm.max_(low, "weight checksums");
  if (!torch::equal(high, -low)) {
    fail("dist", "rank ", comm.rank(), " of ", comm.size(), ": the ranks hold different weights ", when,
         " (a task-boundary computation was not the same on every rank)");
  }
}

}  // namespace retain::dist
