// comm.cpp - the single-rank communicator and the c10d ones (see comm.h).
#include "dist/comm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <functional>

#include "compat.h"
#include "error.h"

#if __has_include(<gloo/config.h>)
#define RETAIN_WITH_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(RETAIN_WITH_CUDA) && __has_include(<nccl.h>) && \
    __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>)
#define RETAIN_WITH_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace retain::dist {

namespace {

int64_t env_int(const char* name, int64_t fallback, int64_t min) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (*end != '\0' || value < min)
    fail("dist", "environment variable ", name, "='", text, "' is not an integer >= ", min);
  return value;
}

class SingleRank final : public Comm {
 public:
  int64_t rank() const override { return 0; }
  int64_t size() const override { return 1; }
  void sum_(torch::Tensor&, const std::string&) override {}
  void max_(torch::Tensor&, const std::string&) override {}
  void broadcast_(torch::Tensor&, int64_t, const std::string&) override {}
  void barrier(const std::string&) override {}
  std::string backend() const override { return "single"; }
};

// Gloo and NCCL share every call; only the group type differs.
template <typename Group>
class C10dComm final : public Comm {
 public:
  // `device`: where the backend's tensors must be (NCCL: the rank's GPU); others are copied there.
  C10dComm(c10::intrusive_ptr<Group> group, int64_t rank, int64_t size, std::string backend, torch::Device device)
      : group_(std::move(group)), rank_(rank), size_(size), backend_(std::move(backend)), device_(device) {}
  ~C10dComm() override {
    try {
      compat::end_process_group(*group_, failed_);
    } catch (const std::exception&) {  // the process is ending; the group goes with it
    }
  }
  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  std::string backend() const override { return backend_; }

  void sum_(torch::Tensor& tensor, const std::string& what) override { reduce(tensor, c10d::ReduceOp::SUM, what); }
  void max_(torch::Tensor& tensor, const std::string& what) override { reduce(tensor, c10d::ReduceOp::MAX, what); }
  void broadcast_(torch::Tensor& tensor, int64_t root, const std::string& what) override {
    guarded("broadcast of " + what, [&] {
      std::vector<torch::Tensor> tensors{on_device(tensor)};
      c10d::BroadcastOptions options;
      options.rootRank = root;
      group_->broadcast(tensors, options)->wait();
      if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
    });
  }
  void barrier(const std::string& what) override {
    guarded("barrier at " + what, [&] { group_->barrier()->wait(); });
  }

 private:
  void reduce(torch::Tensor& tensor, c10d::ReduceOp::RedOpType op, const std::string& what) {
    guarded("all-reduce of " + what, [&] {
      std::vector<torch::Tensor> tensors{on_device(tensor)};
      c10d::AllreduceOptions options;
      options.reduceOp = op;
      group_->allreduce(tensors, options)->wait();
      if (!tensors[0].is_same(tensor)) tensor.copy_(tensors[0]);
    });
  }
  torch::Tensor on_device(const torch::Tensor& tensor) const {
    return tensor.device() == device_ && tensor.is_contiguous() ? tensor : tensor.to(device_).contiguous();
  }
  void guarded(const std::string& what, const std::function<void()>& call) {
    try {
      call();
    } catch (const std::exception& e) {
      failed_ = true;
      fail("dist", "rank ", rank_, " of ", size_, ": ", what, " failed (", backend_,
           "; a peer process may have stopped: ",
           "the run can continue from its last checkpoint with --resume). c10d said: ", e.what());
    }
  }
  c10::intrusive_ptr<Group> group_;
  int64_t rank_, size_;
  std::string backend_;
  torch::Device device_;
  bool failed_ = false;
};

}  // namespace

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  const bool found = fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0;
  if (fd >= 0) ::close(fd);
  if (!found) fail("dist", "cannot find a free TCP port on the loopback interface; give one (--master-port)");
  return ntohs(addr.sin_port);
}

LaunchEnv launch_env() {
  LaunchEnv env;
  env.launched = std::getenv("WORLD_SIZE") != nullptr;
  env.world_size = env_int("WORLD_SIZE", 1, 1);
  env.rank = env_int("RANK", 0, 0);
  env.local_rank = env_int("LOCAL_RANK", env.rank, 0);
  env.master_port = env_int("MASTER_PORT", 29500, 1);
  env.timeout_s = static_cast<double>(env_int("RETAIN_DIST_TIMEOUT", 300, 1));
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  if (env.rank >= env.world_size) fail("dist", "RANK=", env.rank, " is not below WORLD_SIZE=", env.world_size);
  if (env.master_port > 65535) fail("dist", "MASTER_PORT=", env.master_port, " is not a TCP port");
  return env;
}

std::unique_ptr<Comm> comm_create(const LaunchEnv& env, torch::Device& device) {
  if (!env.launched) return std::make_unique<SingleRank>();
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(env.timeout_s * 1000));
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(env.master_port);
  store_options.isServer = env.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(env.world_size);
  store_options.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    fail("dist", "rank ", env.rank, " of ", env.world_size, ": rendezvous at ", env.master_addr, ":", env.master_port,
         " failed (MASTER_ADDR / MASTER_PORT): ", e.what());
  }
  if (device.is_cuda()) {
#if defined(RETAIN_WITH_NCCL)
    if (!device.has_index()) device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
    return std::make_unique<C10dComm<c10d::ProcessGroupNCCL>>(group, env.rank, env.world_size, "nccl", device);
#else
    fail("dist", "WORLD_SIZE=", env.world_size, " on ", device.str(), ": this build of retain has no NCCL");
#endif
  }
#if defined(RETAIN_WITH_GLOO)
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  const bool loopback = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
  options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                      : c10d::ProcessGroupGloo::createDefaultDevice());
  auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  return std::make_unique<C10dComm<c10d::ProcessGroupGloo>>(group, env.rank, env.world_size, "gloo",
                                                            torch::Device(torch::kCPU));
#else
  fail("dist", "WORLD_SIZE=", env.world_size,
       " on the CPU: this build of retain has no Gloo (its libtorch ships no "
       "gloo headers; pip's torch does not): run on CUDA devices (NCCL) or build against Debian's libtorch + "
       "libgloo-dev");
#endif
}

}  // namespace retain::dist
