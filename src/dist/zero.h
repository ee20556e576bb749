// zero.h - ZeRO stage 1: the AdamW moments (two fp32 copies of every trained weight) are split over
// the data-parallel ranks, each parameter owned by one rank. Every rank still gets the summed
// gradients of every parameter (all-reduce: Debian's Gloo has no reduce-scatter, and NCCL's would
// need flat shards that cut through parameters); the owner updates the parameter and broadcasts it,
// each owner's updated parameters together in flat buckets.
// Checkpoints gather the moments, so a run resumes with any number of ranks, sharded or not.
#pragma once

#include "dist/comm.h"
#include "io/safetensors.h"
#include "optim/adamw.h"

namespace retain::dist {

// Each parameter's owner: in order, the rank that owns the fewest elements so far.
std::vector<int64_t> zero_owners(const std::vector<torch::Tensor>& params, int64_t ranks);

// Shards `optimizer` over the ranks of `comm` (before its state is loaded).
void zero_shard(Comm& comm, optim::AdamW& optimizer);

// The bytes of AdamW moments (two values per weight) that a sharded `optimizer` keeps on `rank`,
// and on all ranks together.
std::pair<int64_t, int64_t> zero_moment_bytes(const optim::AdamW& optimizer, int64_t rank);

// After optimizer.step: every parameter that has a gradient (so was updated) set to its owner's.
void zero_broadcast(Comm& comm, const optim::AdamW& optimizer);

// The whole optimizer state (AdamW::state()'s layout), assembled on rank 0 (which writes the
// checkpoints; the others get an empty map): one all-reduce of the step counts, then each owner's
// moments bucket by bucket, each copied to the host as it arrives.
io::TensorMap zero_gather_state(Comm& comm, const optim::AdamW& optimizer);

}  // namespace retain::dist
