// data-parallel.cpp - see data-parallel.h.
#include "dist/data-parallel.h"

#include "error.h"

namespace retain::dist {

std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t rank, int64_t size) {
  const int64_t chunk = (n + size - 1) / size;
  const int64_t begin = std::min(n, rank * chunk);
  return {begin, std::min(n, begin + chunk)};
}

std::vector<std::pair<size_t, size_t>> buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  std::vector<std::pair<size_t, size_t>> out;
  int64_t bytes = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& first = out.empty() ? tensors[i] : tensors[out.back().first];
    const bool joins = !out.empty() && bytes < bucket_bytes && tensors[i].scalar_type() == first.scalar_type() &&
                       tensors[i].device() == first.device();
    if (joins) {
      out.back().second = i + 1;
    } else {
      out.emplace_back(i, i + 1);
      bytes = 0;
    }
    bytes += tensors[i].numel() * static_cast<int64_t>(tensors[i].element_size());
  }
  return out;
}

void broadcast_tensors(Comm& comm, const std::vector<torch::Tensor>& tensors, int64_t root, const std::string& what,
                       int64_t bucket_bytes) {
  if (!comm.distributed()) return;
  torch::NoGradGuard no_grad;
  for (const auto& [begin, end] : buckets(tensors, bucket_bytes)) {
    if (end - begin == 1 && tensors[begin].is_contiguous()) {
      auto tensor = tensors[begin];
      comm.broadcast_(tensor, root, what);
      continue;
    }
    std::vector<torch::Tensor> flat;
    for (size_t i = begin; i < end; ++i) flat.push_back(tensors[i].reshape({-1}));
    auto buffer = torch::cat(flat);
    comm.broadcast_(buffer, root, what);
    if (comm.rank() == root) continue;
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const auto n = tensors[i].numel();
      tensors[i].copy_(buffer.narrow(0, offset, n).view(tensors[i].sizes()));
      offset += n;
    }
  }
}

void broadcast_model(Comm& comm, model::Model& model) {
  std::vector<torch::Tensor> tensors;
  for (auto& item : model.named_parameters()) tensors.push_back(item.value());
  for (auto& item : model.named_buffers()) tensors.push_back(item.value());
  broadcast_tensors(comm, tensors, 0, "the starting weights");
}

namespace {

// One bucket: gradients (zeros where this rank has none), one presence flag per parameter, extras.
void sum_bucket(Comm& comm, const std::vector<torch::Tensor>& params, size_t begin, size_t end,
                std::vector<double>* extras) {
  std::vector<torch::Tensor> flat;
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(params[begin].device());
  for (size_t i = begin; i < end; ++i) {
    const auto& grad = params[i].grad();
    flat.push_back(grad.defined() ? grad.detach().to(torch::kFloat).reshape({-1})
                                  : torch::zeros({params[i].numel()}, options));
  }
  std::vector<float> tail;
  for (size_t i = begin; i < end; ++i) tail.push_back(params[i].grad().defined() ? 1.0f : 0.0f);
  if (extras != nullptr) {
    for (double value : *extras) tail.push_back(static_cast<float>(value));
  }
  flat.push_back(torch::tensor(tail, options));
  auto buffer = torch::cat(flat);
  comm.sum_(buffer, "gradients");
  // The flags and extras in one copy to the host (one device sync per bucket, not per parameter).
  const auto tail_start = buffer.numel() - static_cast<int64_t>(tail.size());
  const auto summed_tail = buffer.narrow(0, tail_start, static_cast<int64_t>(tail.size())).to(torch::kDouble).cpu();
  const auto* totals = summed_tail.data_ptr<double>();
  int64_t offset = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto n = params[i].numel();
    auto& grad = params[i].mutable_grad();
    if (totals[i - begin] > 0) {
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
    for (size_t k = 0; k < extras->size(); ++k) (*extras)[k] = totals[end - begin + k];
  }
}

}  // namespace

void sum_gradients(Comm& comm, const std::vector<torch::Tensor>& params, std::vector<double>& extras,
                   int64_t bucket_bytes) {
  if (!comm.distributed()) return;
  torch::NoGradGuard no_grad;
  const auto ranges = buckets(params, bucket_bytes);
  for (size_t b = 0; b < ranges.size(); ++b) {
    const bool last = b + 1 == ranges.size();
    sum_bucket(comm, params, ranges[b].first, ranges[b].second, last ? &extras : nullptr);
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
    sums.push_back((p.to(torch::kDouble) *
                    torch::arange(1, p.numel() + 1, p.options().dtype(torch::kDouble)).view(p.sizes()) / p.numel())
                       .sum());
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
