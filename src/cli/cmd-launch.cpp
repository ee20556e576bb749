// retain launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- COMMAND...:
// starts N copies of COMMAND on this machine the way torchrun does, each with RANK, WORLD_SIZE,
// LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT in its environment (and
// OMP_NUM_THREADS = cores / N unless it is set), and waits for them. When one fails, the others
// are given `--grace` seconds to stop by themselves (their next collective fails and says so),
// then terminated; the exit code is that of the first one to fail.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "dist/comm.h"
#include "error.h"

namespace retain::cli {

namespace {

struct Options {
  int nproc = 1, nnodes = 1, node_rank = 0, master_port = 0;
  double grace = 30;
  std::string master_addr = "127.0.0.1";
  std::vector<std::string> command;
};

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int launch(const Options& o) {
  if (o.nproc < 1 || o.nnodes < 1 || o.node_rank < 0 || o.node_rank >= o.nnodes) {
    fail("launch", "--nproc and --nnodes must be >= 1 and --node-rank below --nnodes");
  }
  if (o.master_port == 0 && o.nnodes > 1) fail("launch", "several machines need an agreed --master-port");
  const int port = o.master_port != 0 ? o.master_port : dist::free_loopback_port();
  const int world = o.nproc * o.nnodes;
  const auto threads = std::max(1u, std::thread::hardware_concurrency() / static_cast<unsigned>(o.nproc));
  std::map<pid_t, int> ranks;  // running children
  for (int local = 0; local < o.nproc; ++local) {
    const pid_t pid = ::fork();
    if (pid < 0) fail("launch", "fork failed for local rank ", local);
    if (pid == 0) {
      ::setenv("RANK", std::to_string(o.node_rank * o.nproc + local).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 0);
      std::vector<char*> argv;
      for (const auto& arg : o.command) argv.push_back(const_cast<char*>(arg.c_str()));
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      std::cerr << "[launch] cannot run '" << o.command[0] << "'\n";
      std::_Exit(127);
    }
    ranks[pid] = o.node_rank * o.nproc + local;
  }
  int first_failure = 0;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (!ranks.empty()) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, first_failure != 0 ? WNOHANG : 0);
    if (pid > 0) {
      const int code = exit_code(status);
      const int rank = ranks[pid];
      ranks.erase(pid);
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        std::cerr << "[launch] rank " << rank << " exited with code " << code << "; waiting up to " << o.grace
                  << " s for the other ranks to stop\n";
        deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                          std::chrono::duration<double>(o.grace));
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      for (const auto& [child, rank] : ranks) {
        std::cerr << "[launch] terminating rank " << rank << "\n";
        ::kill(child, SIGTERM);
      }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return first_failure;
}

}  // namespace

Command add_launch(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("launch", "run COMMAND as N data-parallel processes (torchrun's environment)");
  cmd->add_option("--nproc", o->nproc, "processes on this machine (one per GPU, or CPU processes)")->required();
  cmd->add_option("--nnodes", o->nnodes, "machines taking part (default 1)");
  cmd->add_option("--node-rank", o->node_rank, "this machine's index among them (default 0)");
  cmd->add_option("--master-addr", o->master_addr, "address of the machine with node rank 0 (default 127.0.0.1)");
  cmd->add_option("--master-port", o->master_port,
                  "its rendezvous port (default: a free one; required with --nnodes > 1)");
  cmd->add_option("--grace", o->grace, "seconds the other ranks get to stop after one fails (default 30)");
  cmd->add_option("command", o->command, "the command each process runs, after --")->required();
  return {cmd, [o]() { return launch(*o); }};
}

}  // namespace retain::cli
