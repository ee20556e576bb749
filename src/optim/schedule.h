// schedule.h - the learning rate at an optimizer step of a task, as transformers' schedulers give it:
// linear warm-up from 0 over `warmup` steps, then constant or half-cosine decay to 0 at `total`.
#pragma once

#include <cstdint>

#include "config/stream-config.h"

namespace retain::optim {

// step counts from 0 (the first update uses lr_at(0, ...)).
double lr_at(int64_t step, int64_t total, int64_t warmup, config::Schedule schedule, double base_lr);

}  // namespace retain::optim
