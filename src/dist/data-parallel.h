// data-parallel.h - what data-parallel training does beyond single-rank training, on a Comm:
// every rank starts from rank 0's weights, trains on its slice of each global micro-batch, and
// after backward the gradients are summed over the ranks in flat buckets (each rank's loss was
// weighted by its share of the batch's loss items, so the sum is the gradient of the whole batch,
// as one process would compute it). Task-boundary computations (SVDs, Fisher, subspaces) run on
// every rank over the same data, and `check_same_weights` verifies after each task that the ranks
// still hold the same weights.
#pragma once

#include <vector>

#include "dist/comm.h"
#include "model/model.h"

namespace retain::dist {

// Rank `rank`'s contiguous slice of a global micro-batch of n items: [begin, end).
std::pair<int64_t, int64_t> shard_range(int64_t n, int64_t rank, int64_t size);

constexpr int64_t kBucketBytes = 25 << 20;

// How `tensors` travel: consecutive runs [begin, end) of one dtype and device, each closed once it
// holds `bucket_bytes` or more, sent as one flat buffer (one collective per bucket).
std::vector<std::pair<size_t, size_t>> buckets(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes);

// Every tensor of `tensors` set, in place, to rank `root`'s, bucket by bucket.
void broadcast_tensors(Comm& comm, const std::vector<torch::Tensor>& tensors, int64_t root, const std::string& what,
                       int64_t bucket_bytes = kBucketBytes);

// Every parameter and buffer of `model` set to rank 0's.
void broadcast_model(Comm& comm, model::Model& model);

// Sums the gradients of `params` over the ranks, in buckets of about `bucket_bytes`, together
// with `extras` (scalars such as the loss, summed in the same messages). A parameter that no rank
// gave a gradient keeps none, so the optimizer skips it as it would in one process.
void sum_gradients(Comm& comm, const std::vector<torch::Tensor>& params, std::vector<double>& extras,
                   int64_t bucket_bytes = kBucketBytes);

// Fails (naming `when`) unless every rank holds the same trainable weights, to the bit.
void check_same_weights(Comm& comm, model::Model& model, const std::string& when);

}  // namespace retain::dist
