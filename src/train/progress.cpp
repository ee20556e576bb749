// progress.cpp - see progress.h.
#include "train/progress.h"

#include <unistd.h>

#include <cmath>
#include <sstream>

#include "error.h"

namespace retain::train {

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  char buffer[32];
  if (s >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", static_cast<long>(s / 3600), static_cast<long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", static_cast<long>(s / 60), static_cast<long>(s % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lds", static_cast<long>(s));
  }
  return buffer;
}

Progress::Progress(const std::string& log_path, int64_t total_steps, int64_t done_steps, int64_t log_every, bool quiet)
    : terminal_(::isatty(STDERR_FILENO) == 1),
      quiet_(quiet),
      total_steps_(total_steps),
      done_steps_(done_steps),
      log_every_(std::max<int64_t>(1, log_every)),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {
  if (quiet_) return;
  log_ = std::fopen(log_path.c_str(), "a");
  if (log_ == nullptr) fail("train", log_path, ": cannot open for appending");
}

Progress::~Progress() {
  clear_bar();
  if (log_ != nullptr) std::fclose(log_);
}

void Progress::write_log(const nlohmann::json& line) {
  const auto text = line.dump() + "\n";
  std::fwrite(text.data(), 1, text.size(), log_);
  std::fflush(log_);
}

void Progress::clear_bar() {
  if (bar_shown_) {
    std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
}

void Progress::step(const StepReport& r) {
  if (quiet_) return;
  ++session_steps_;
  ++done_steps_;
  tokens_since_ += r.tokens;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_).count();
  const double eta = elapsed / static_cast<double>(session_steps_) * static_cast<double>(total_steps_ - done_steps_);
  const bool logged = r.step % log_every_ == 0 || r.step == r.steps;
  const double rate = since > 0 ? static_cast<double>(tokens_since_) / since : 0;
  if (logged) {
    write_log({{"event", "step"},
               {"task", r.task},
               {"stage", r.stage},
               {"step", r.step},
               {"loss", r.loss},
               {"lr", r.lr},
               {"grad_norm", r.grad_norm},
               {r.images ? "images_per_s" : "tokens_per_s", rate},
               {"elapsed_s", elapsed}});
  }
  std::ostringstream line;
  line.precision(4);
  line << "[task " << r.stage + 1 << "/" << r.stages << " " << r.task << "] step " << r.step << "/" << r.steps;
  if (terminal_) {
    const int width = 20;
    const int filled = r.steps > 0 ? static_cast<int>(width * r.step / r.steps) : width;
    line << " " << std::string(filled, '#') << std::string(width - filled, '.');
  }
  line << "  loss " << r.loss << "  " << static_cast<int64_t>(rate) << (r.images ? " img/s" : " tok/s") << "  ETA "
       << duration_text(eta);
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", line.str().c_str());
    std::fflush(stderr);
    bar_shown_ = true;
  } else if (logged) {
    std::fprintf(stderr, "%s\n", line.str().c_str());
  }
  if (logged || terminal_) {
    last_ = now;
    tokens_since_ = 0;
  }
}

void Progress::event(const std::string& name, nlohmann::json fields, const std::string& say) {
  if (quiet_) return;
  fields["event"] = name;
  write_log(fields);
  if (!say.empty()) {
    clear_bar();
    std::fprintf(stderr, "%s\n", say.c_str());
  }
}

WorkProgress::WorkProgress(std::string what, int64_t total, std::string unit, bool quiet, double every_seconds,
                           std::FILE* out)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      quiet_(quiet),
      every_(every_seconds),
      out_(out),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void WorkProgress::done(int64_t count) {
  if (quiet_ || count <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < every_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = elapsed / static_cast<double>(count) * static_cast<double>(total_ - count);
  std::fprintf(out_, "%s: %lld/%lld %s, %s so far, ETA %s\n", what_.c_str(), static_cast<long long>(count),
               static_cast<long long>(total_), unit_.c_str(), duration_text(elapsed).c_str(),
               duration_text(eta).c_str());
  std::fflush(out_);
}

}  // namespace retain::train
