// progress.h - what a running stream tells its user: a one-line progress bar (task, step, loss,
// tokens/s or images/s, ETA) on a terminal, plain periodic lines otherwise, and always RUN/log.jsonl, one JSON
// object per logged step or event, flushed line by line so a killed run keeps its log.
#pragma once

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace retain::train {

struct StepReport {
  std::string task;
  int64_t stage = 0, stages = 0;  // 0-based stage and how many there are
  int64_t step = 0, steps = 0;    // optimizer steps done in the stage and planned
  double loss = 0, lr = 0, grad_norm = 0;
  int64_t tokens = 0;   // tokens (or images) in this step's batches
  bool images = false;  // the batches are images: the rate is in images/s
};

class Progress {
 public:
  // total_steps: optimizer steps of the whole run; done_steps: those already done (resume).
  // A quiet Progress (data-parallel ranks other than 0) writes nothing at all.
  Progress(const std::string& log_path, int64_t total_steps, int64_t done_steps, int64_t log_every, bool quiet = false);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void step(const StepReport& report);
  // A log.jsonl line ({"event": name, ...fields}) and, when `say` is not empty, a line for the user.
  void event(const std::string& name, nlohmann::json fields, const std::string& say = "");

 private:
  void write_log(const nlohmann::json& line);
  void clear_bar();
  std::FILE* log_ = nullptr;
  bool terminal_, quiet_;
  int64_t total_steps_, done_steps_, session_steps_ = 0, log_every_;
  int64_t tokens_since_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
  bool bar_shown_ = false;
};

// A line every `every_seconds` while a long piece of work (an evaluation) runs, so that it is never
// silent for long: "[eval] task 'copy': 120/500 examples, 1m05s so far, ETA 3m20s". Work that ends
// within the first interval prints nothing. A quiet one (data-parallel ranks other than 0) prints nothing.
class WorkProgress {
 public:
  WorkProgress(std::string what, int64_t total, std::string unit, bool quiet, double every_seconds = 10,
               std::FILE* out = stderr);
  void done(int64_t count);  // `count` of the total are done

 private:
  std::string what_, unit_;
  int64_t total_;
  bool quiet_;
  double every_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_;
};

// "1h02m", "3m05s", "12s".
std::string duration_text(double seconds);

}  // namespace retain::train
