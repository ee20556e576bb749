// retain parity: every bundled tiny checkpoint (tests/fixtures/hf) run through retain and compared
// with what Hugging Face transformers / peft computed for the same inputs.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "model/golden.h"

namespace retain::cli {

namespace {

int run_parity(const std::string& fixtures) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(fixtures)) {
    if (std::filesystem::exists(entry.path() / "golden.safetensors")) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::printf("retain parity: %zu reference checkpoints from %s\n", names.size(), fixtures.c_str());
  std::printf("(thresholds: logits %g, loss %g, gradients %g relative, generation identical)\n\n",
              model::kGoldenLogitsTolerance, model::kGoldenLossTolerance, model::kGoldenGradTolerance);
  std::printf("%-14s %-8s %12s %12s %14s  %s\n", "fixture", "type", "max|dlogit|", "|dloss|", "max grad rel",
              "greedy generation");
  int failures = 0;
  for (const auto& name : names) {
    auto r = model::golden_compare(fixtures + "/" + name);
    const double grad = r.max_grad_rel_diff();
    const bool ok = r.matches();
    failures += ok ? 0 : 1;
    char logits[32], loss[32], grads[32];
    std::snprintf(logits, sizeof logits, r.logits_max_abs_diff < 0 ? "-" : "%.2e", r.logits_max_abs_diff);
    std::snprintf(loss, sizeof loss, r.loss_abs_diff < 0 ? "-" : "%.2e", r.loss_abs_diff);
    std::snprintf(grads, sizeof grads, grad < 0 ? "-" : "%.2e", grad);
    std::string generation = !r.generation_checked ? "-"
                             : r.generation_equal  ? "identical (" + std::to_string(r.generated.size()) + " tokens)"
                                                   : "DIFFERENT";
    std::printf("%-14s %-8s %12s %12s %14s  %s  %s\n", name.c_str(), r.model_type.c_str(), logits, loss, grads,
                generation.c_str(), ok ? "ok" : "FAIL");
  }
  std::printf("\n%s\n", failures == 0 ? "all match the reference" : "MISMATCHES FOUND");
  return failures == 0 ? 0 : 1;
}

}  // namespace

Command add_parity(CLI::App& app) {
  auto* sub = app.add_subcommand("parity", "run the bundled reference checkpoints and compare with Hugging Face");
  static std::string fixtures = RETAIN_SOURCE_DIR "/tests/fixtures/hf";
  sub->add_option("--fixtures", fixtures, "folder of reference checkpoints (one sub-folder each)")
      ->capture_default_str();
  return {sub, [] { return run_parity(fixtures); }};
}

}  // namespace retain::cli
