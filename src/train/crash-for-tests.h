// crash-for-tests.h - the one test hook in the training loop: a run dies like kill -9 (exit 137,
// no clean-up) after RETAIN_CRASH_AFTER_STEPS optimizer steps of this process, on every rank or only
// on rank RETAIN_CRASH_RANK, so the resume tests can prove that a killed run continues to the same
// bits. Unset, it does nothing.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace retain::train {

class CrashForTests {
 public:
  explicit CrashForTests(int64_t rank) {
    const char* after = std::getenv("RETAIN_CRASH_AFTER_STEPS");
    const char* only_rank = std::getenv("RETAIN_CRASH_RANK");
    if (after != nullptr && (only_rank == nullptr || std::atoll(only_rank) == rank)) after_ = std::atoll(after);
  }
  // Called after every optimizer step.
  void after_step() {
    if (after_ >= 0 && ++steps_ == after_) std::_Exit(137);
  }

 private:
  int64_t after_ = -1;
  int64_t steps_ = 0;
};

}  // namespace retain::train
