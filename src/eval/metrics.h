// metrics.h - the continual-learning metrics derived from the accuracy matrix R (docs/methods.md §1.2),
// over the T completed tasks (rows) of a run. In 1-based notation:
//   AA                  (1/T) Σ_{i≤T} R[T][i]
//   BWT                 (1/(T−1)) Σ_{i<T} (R[T][i] − R[i][i])              Lopez-Paz & Ranzato; < 0 = forgetting
//   clipped forgetting  −(1/T) Σ_{i≤T} min(R[T][i] − R[i][i], 0)          TreeLoRA; ≥ 0, gains clipped
//   FWT                 (1/(T−1)) Σ_{2≤i≤T} (R[i−1][i] − base[i])
//   forgetting          (1/(T−1)) Σ_{i<T} max_{i≤l≤T−1} (R[l][i] − R[T][i])  Chaudhry et al.
//   A_t                 test-size-weighted mean of R[t][i] over i ≤ t       class-incremental only
//   last accuracy A_T, average incremental accuracy Ā = (1/T) Σ_t A_t        class-incremental only
//   perplexity drift    general-text perplexity after − before
// Entries that were not measured are left out: each mean divides by the number of terms it has,
// which is the formula's count when everything was measured; a metric without terms is null.
// With T = 1, BWT, FWT and forgetting are null.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "eval/run-result.h"

namespace retain::eval {

struct Metrics {
  int64_t completed_tasks = 0;             // T
  std::optional<double> average_accuracy;  // AA
  std::optional<double> bwt, fwt, forgetting, clipped_forgetting;
  bool class_incremental = false;                           // the three below are set only then
  std::vector<std::optional<double>> incremental_accuracy;  // A_t for t = 1..T
  std::optional<double> last_accuracy;                      // A_T
  std::optional<double> average_incremental_accuracy;       // Ā
  std::optional<double> perplexity_drift;
};

Metrics metrics_compute(const RunResult& result);

// {"completed_tasks", "average_accuracy", "bwt", "fwt", "forgetting", "clipped_forgetting",
//  "perplexity_drift"} and, when class-incremental, {"incremental_accuracy", "last_accuracy",
//  "average_incremental_accuracy"}; null where a metric is undefined.
nlohmann::json metrics_to_json(const Metrics& metrics);

}  // namespace retain::eval
