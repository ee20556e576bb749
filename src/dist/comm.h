// comm.h - the collective operations data-parallel training needs, over PyTorch's c10d engine:
// one process per device, launched the way torchrun does it (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT in the environment), a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT
// (rank 0 hosts it), and ProcessGroupGloo on the CPU or ProcessGroupNCCL on CUDA devices.
// Without WORLD_SIZE in the environment the process is alone and every operation is a no-op.
//
// A failed collective (a peer process died, the network went away, the timeout passed) throws a
// retain::Error in area "dist" that names this rank, the operation and what c10d said.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

namespace retain::dist {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t size() const = 0;
  // In place, over every rank: the element-wise sum / maximum.
  virtual void sum_(torch::Tensor& tensor, const std::string& what) = 0;
  virtual void max_(torch::Tensor& tensor, const std::string& what) = 0;
  // In place: every rank gets rank `root`'s tensor.
  virtual void broadcast_(torch::Tensor& tensor, int64_t root, const std::string& what) = 0;
  virtual void barrier(const std::string& what) = 0;
  // "single", "gloo" or "nccl".
  virtual std::string backend() const = 0;

  bool leader() const { return rank() == 0; }
  // Whether this is a c10d process group (also one of a single rank, started by `retain launch
  // --nproc 1`, which runs every collective the same way), rather than a plain process.
  bool distributed() const { return backend() != "single"; }
};

struct LaunchEnv {
  bool launched = false;  // WORLD_SIZE is set
  int64_t rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  double timeout_s = 300;  // RETAIN_DIST_TIMEOUT: how long a collective waits for its peers
};

// A TCP port that is free on the loopback interface right now (for a rendezvous on one machine).
int free_loopback_port();

// The launch variables of this process; a malformed one is an error naming it.
LaunchEnv launch_env();

// The communicator for this process: single-rank unless launched, then Gloo for a CPU
// device and NCCL for a CUDA one (the device becomes cuda:LOCAL_RANK when it names no index).
std::unique_ptr<Comm> comm_create(const LaunchEnv& env, torch::Device& device);

}  // namespace retain::dist
