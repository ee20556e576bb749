// init.h - a model built from a config.json alone, with freshly initialised weights, for training
// from scratch (the base-pretraining recipe, the vision demo): every matrix ~ N(0, initializer_range)
// as transformers' _init_weights draws them, biases 0, norm weights 1.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/checkpoint.h"

namespace retain::model {

// Reads `config_path`, builds the architecture and draws its weights from torch's generator seeded
// with `seed` (the same weights on every CPU run with the same seed).
std::shared_ptr<Model> model_init(const std::string& config_path, uint64_t seed, const LoadOptions& options = {});

}  // namespace retain::model
