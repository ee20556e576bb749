// The collectives of data-parallel training, on two ranks of c10d's Gloo run as two threads of
// this process (each with its own process group, meeting at a TCPStore on the loopback interface):
// bucketed broadcasts, the gradient sum with its presence flags and extras, and ZeRO-1, whose
// sharded optimizer must update every parameter exactly as an unsharded one does while keeping
// only its share of the moments.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <exception>
#include <functional>
#include <thread>

#include "dist/comm.h"
#include "dist/data-parallel.h"
#include "dist/zero.h"
#include "optim/adamw.h"

using namespace retain;

namespace {

// Forwards to a communicator and counts its collectives.
class CountingComm final : public dist::Comm {
 public:
  explicit CountingComm(dist::Comm& inner) : inner_(inner) {}
  int64_t rank() const override { return inner_.rank(); }
  int64_t size() const override { return inner_.size(); }
  void sum_(torch::Tensor& tensor, const std::string& what) override { ++reductions, inner_.sum_(tensor, what); }
  void max_(torch::Tensor& tensor, const std::string& what) override { ++reductions, inner_.max_(tensor, what); }
  void broadcast_(torch::Tensor& tensor, int64_t root, const std::string& what) override {
    ++broadcasts, inner_.broadcast_(tensor, root, what);
  }
  void barrier(const std::string& what) override { inner_.barrier(what); }
  std::string backend() const override { return inner_.backend(); }
  int broadcasts = 0, reductions = 0;

 private:
  dist::Comm& inner_;
};

// Runs `body` on two Gloo ranks, one thread each; a rank's exception is rethrown here.
void on_two_ranks(const std::function<void(dist::Comm&)>& body) {
  const int port = dist::free_loopback_port();
  std::vector<std::exception_ptr> errors(2);
  std::vector<std::thread> ranks;
  for (int64_t r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      try {
        dist::LaunchEnv env;
        env.launched = true;
        env.rank = r;
        env.world_size = 2;
        env.master_port = port;
        env.timeout_s = 60;
        torch::Device device(torch::kCPU);
        auto comm = dist::comm_create(env, device);
        body(*comm);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& thread : ranks) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

// Deterministic values that differ per tensor `k` and per `salt` (no shared random generator:
// the ranks are threads).
torch::Tensor pattern(std::vector<int64_t> shape, double k, double salt) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return torch::sin(torch::arange(n, torch::kDouble) * (0.37 + 0.01 * k) + salt).view(shape).to(torch::kFloat);
}

// Mixed dtypes, one non-contiguous view: rank r's values are tagged by r.
std::vector<torch::Tensor> mixed_tensors(int64_t rank) {
  const double tag = static_cast<double>(rank + 1);
  return {pattern({3, 4}, 0, tag), pattern({5, 2}, 1, tag).t(), pattern({7}, 2, tag).to(torch::kDouble),
          torch::arange(4, torch::kLong).view({2, 2}) * (rank + 10), pattern({6}, 3, tag)};
}

TEST(Collectives, BroadcastTensorsTravelInBucketsOfOneDtype) {
  on_two_ranks([](dist::Comm& comm) {
    const auto expected = mixed_tensors(1);
    for (const auto& [bucket_bytes, collectives] : {std::pair{int64_t{25} << 20, 4}, std::pair{int64_t{1}, 5}}) {
      auto tensors = mixed_tensors(comm.rank());
      CountingComm counting(comm);
      dist::broadcast_tensors(counting, tensors, 1, "test tensors", bucket_bytes);
      // The two float tensors share a bucket when it is large; then a double, a long and a float one.
      EXPECT_EQ(counting.broadcasts, collectives) << "bucket of " << bucket_bytes << " bytes";
      for (size_t i = 0; i < tensors.size(); ++i) {
        EXPECT_TRUE(torch::equal(tensors[i], expected[i])) << "rank " << comm.rank() << ", tensor " << i;
      }
    }
  });
}

TEST(Collectives, GradientSumKeepsWhichParametersHaveGradients) {
  on_two_ranks([](dist::Comm& comm) {
    // p0: a gradient on rank 0 only; p1: on both; p2: on neither. Buckets of one parameter each.
    std::vector<torch::Tensor> params;
    for (int k = 0; k < 3; ++k) params.push_back(pattern({4, 3}, k, 0).requires_grad_(true));
    const double r = static_cast<double>(comm.rank());
    if (comm.rank() == 0) params[0].mutable_grad() = pattern({4, 3}, 0, 5);
    params[1].mutable_grad() = pattern({4, 3}, 1, r);
    std::vector<double> extras{1.5 + r, 10 * r};
    dist::sum_gradients(comm, params, extras, 1);
    EXPECT_TRUE(torch::equal(params[0].grad(), pattern({4, 3}, 0, 5)));
    EXPECT_TRUE(torch::allclose(params[1].grad(), pattern({4, 3}, 1, 0) + pattern({4, 3}, 1, 1)));
    EXPECT_FALSE(params[2].grad().defined());
    EXPECT_EQ(extras, (std::vector<double>{4, 10}));
  });
}

TEST(Collectives, ZeroOneUpdatesLikeOneOptimizerAndKeepsItsShare) {
  const std::vector<std::vector<int64_t>> shapes{{4, 3}, {10}, {2, 2}, {7}, {3}, {5, 5}};
  on_two_ranks([&](dist::Comm& comm) {
    auto group = [&] {
      optim::ParamGroup g;
      g.weight_decay = 0.01;
      for (size_t k = 0; k < shapes.size(); ++k) {
        g.names.push_back("p" + std::to_string(k));
        g.params.push_back(pattern(shapes[k], static_cast<double>(k), 0.5));
      }
      return g;
    };
    optim::AdamW whole({group()}, {}), sharded({group()}, {});
    dist::zero_shard(comm, sharded);
    for (int step = 1; step <= 3; ++step) {
      for (auto* optimizer : {&whole, &sharded}) {
        auto params = optimizer->params();
        for (size_t k = 0; k < params.size(); ++k) {
          // Parameter 2 gets no gradient in the first step: it is neither updated nor broadcast then.
          if (k == 2 && step == 1) continue;
          params[k].mutable_grad() = pattern(shapes[k], static_cast<double>(k), step);
        }
      }
      whole.step(1e-2);
      sharded.step(1e-2);
      dist::zero_broadcast(comm, sharded);
      for (size_t k = 0; k < shapes.size(); ++k) {
        EXPECT_TRUE(torch::equal(whole.params()[k], sharded.params()[k])) << "step " << step << ", p" << k;
      }
      whole.zero_grad();
      sharded.zero_grad();
    }
    // Each rank keeps the moments of its parameters only, about half of them.
    int64_t total = 0, largest = 0, kept = 0;
    for (const auto& p : whole.params()) total += p.numel(), largest = std::max(largest, p.numel());
    for (const auto& [key, tensor] : sharded.state()) kept += key.rfind("exp_avg.", 0) == 0 ? tensor.numel() : 0;
    EXPECT_LE(kept, total / 2 + largest) << "rank " << comm.rank();
    auto both = torch::tensor({static_cast<double>(kept)}, torch::kDouble);
    comm.sum_(both, "kept moments");
    EXPECT_EQ(both.item<double>(), static_cast<double>(total));
    // Gathered on rank 0 for a checkpoint, they are the unsharded optimizer's state, to the bit.
    const auto gathered = dist::zero_gather_state(comm, sharded), expected = whole.state();
    if (!comm.leader()) {
      EXPECT_TRUE(gathered.empty());
      return;
    }
    ASSERT_EQ(gathered.size(), expected.size());
    for (const auto& [key, tensor] : expected) {
      ASSERT_TRUE(gathered.count(key)) << key;
      EXPECT_TRUE(torch::equal(gathered.at(key), tensor)) << key;
    }
  });
}

}  // namespace
