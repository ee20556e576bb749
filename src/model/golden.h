// golden.h - compare retain against reference outputs saved by Hugging Face transformers / peft:
// a fixture folder holds a model (or a PEFT adapter) and golden.safetensors with the reference's
// inputs, logits, loss, gradients and a greedy generation (tests/fixtures/README.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/model.h"

namespace retain::model {

// The parity thresholds (float32): logits absolute, loss absolute, gradients relative.
constexpr double kGoldenLogitsTolerance = 1e-4;
constexpr double kGoldenLossTolerance = 1e-5;
constexpr double kGoldenGradTolerance = 1e-4;

struct GoldenComparison {
  std::string fixture;  // folder name, e.g. "llama"
  std::string model_type;
  double logits_max_abs_diff = -1;  // -1 where the golden file has no such entry
  double loss_abs_diff = -1;
  std::map<std::string, double> grad_rel_diff;  // parameter -> ||g - g_ref|| / ||g_ref||
  bool generation_checked = false;
  bool generation_equal = false;
  std::vector<int64_t> generated, expected;

  double max_grad_rel_diff() const;  // -1 when no gradient was compared
  // Every compared quantity within the thresholds above, and the generation identical.
  bool matches() const;
};

// The golden file's inputs as a batch: input_ids, attention_mask, labels, pixel_values (those present).
Batch golden_batch(const std::string& fixture_dir);

// Runs the fixture's golden inputs through retain in float32 on the CPU. An adapter fixture
// (adapter_config.json) is applied to its base model: MANIFEST.json's "base" in the parent folder,
// else the last path component of the adapter's base_model_name_or_path, as a sibling folder.
GoldenComparison golden_compare(const std::string& fixture_dir);

// The base model folder of an adapter fixture (see above).
std::string golden_adapter_base(const std::string& fixture_dir);

}  // namespace retain::model
