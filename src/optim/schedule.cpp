// schedule.cpp - see schedule.h; get_constant_schedule_with_warmup and get_cosine_schedule_with_warmup
// of transformers/optimization.py.
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

namespace retain::optim {

double lr_at(int64_t step, int64_t total, int64_t warmup, config::Schedule schedule, double base_lr) {
  if (step < warmup) return base_lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (schedule == config::Schedule::Constant) return base_lr;
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  return base_lr * std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace retain::optim
