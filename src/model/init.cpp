// init.cpp - see init.h.
#include "model/init.h"

#include <filesystem>

#include "model/registry.h"

namespace retain::model {

std::shared_ptr<Model> model_init(const std::string& config_path, uint64_t seed, const LoadOptions& options) {
  auto config = io::HfConfig::read(config_path);
  // T5 names its scale initializer_factor; the others initializer_range.
  const double std_dev = config.get_double("initializer_range", 0.02 * config.get_double("initializer_factor", 1.0));
  auto model = model_create(config, torch::TensorOptions().dtype(options.dtype).device(options.device));
  torch::manual_seed(seed);
  {
    torch::NoGradGuard no_grad;
    // Drawn in float32 on the CPU in registration order, so every device gets the same weights.
    for (auto& item : model->named_parameters()) {
      auto& p = item.value();
      if (p.dim() >= 2) p.copy_(torch::empty(p.sizes(), torch::kFloat).normal_(0, std_dev));
    }
  }
  model->set_source(std::filesystem::path(config_path).parent_path().string());
  return model;
}

}  // namespace retain::model
