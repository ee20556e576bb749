// metrics.cpp - AA, BWT, FWT, forgetting and the class-incremental accuracies from R.
#include "eval/metrics.h"

#include <algorithm>
#include <cstdint>

namespace retain::eval {

namespace {

// A running sum that knows how many terms it had.
struct Mean {
  double sum = 0;
  double weight = 0;
  void add(double value, double w = 1) {
    sum += value * w;
    weight += w;
  }
  std::optional<double> value() const { return weight > 0 ? std::optional<double>(sum / weight) : std::nullopt; }
};

nlohmann::json to_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

Metrics metrics_compute(const RunResult& result) {
  Metrics metrics;
  const int64_t T = completed_tasks(result);
  metrics.completed_tasks = T;
  metrics.class_incremental = result.class_incremental;
  if (result.general_ppl_before && result.general_ppl_after) {
    metrics.perplexity_drift = *result.general_ppl_after - *result.general_ppl_before;
  }
  if (T == 0) return metrics;
  // 0-based from here on: the last completed row is R[T − 1].
  const auto& R = result.R;
  const auto& last = R[T - 1];

  Mean aa, bwt, clipped, fwt, forgetting;
  for (int64_t i = 0; i < T; ++i) {
    if (!last[i]) continue;
    aa.add(*last[i]);
    if (R[i][i]) {
      const double change = *last[i] - *R[i][i];
      clipped.add(-std::min(change, 0.0));
      if (i < T - 1) bwt.add(change);
    }
    if (i < T - 1) {
      std::optional<double> drop;  // the largest fall from an earlier measurement to the last one
      for (int64_t l = i; l < T - 1; ++l) {
        if (R[l][i] && (!drop || *R[l][i] - *last[i] > *drop)) drop = *R[l][i] - *last[i];
      }
      if (drop) forgetting.add(*drop);
    }
  }
  for (int64_t i = 1; i < T; ++i) {
    if (R[i - 1][i] && i < static_cast<int64_t>(result.base.size()) && result.base[i])
      fwt.add(*R[i - 1][i] - *result.base[i]);
  }
  metrics.average_accuracy = aa.value();
  metrics.clipped_forgetting = clipped.value();
  // −0 prints as "-0"; no forgetting at all is plain 0.
  if (metrics.clipped_forgetting && *metrics.clipped_forgetting == 0) metrics.clipped_forgetting = 0.0;
  if (T > 1) {
    metrics.bwt = bwt.value();
    metrics.fwt = fwt.value();
    metrics.forgetting = forgetting.value();
  }

  if (result.class_incremental) {
    Mean average;
    for (int64_t t = 0; t < T; ++t) {
      Mean seen;
      for (int64_t i = 0; i <= t; ++i) {
        const double size = result.test_sizes.empty() ? 1.0 : static_cast<double>(result.test_sizes[i]);
        if (R[t][i] && size > 0) seen.add(*R[t][i], size);
      }
      metrics.incremental_accuracy.push_back(seen.value());
      if (seen.value()) average.add(*seen.value());
    }
    metrics.last_accuracy = metrics.incremental_accuracy.back();
    metrics.average_incremental_accuracy = average.value();
  }
  return metrics;
}

nlohmann::json metrics_to_json(const Metrics& metrics) {
  nlohmann::json out = {{"completed_tasks", metrics.completed_tasks},
                        {"average_accuracy", to_json(metrics.average_accuracy)},
                        {"bwt", to_json(metrics.bwt)},
                        {"fwt", to_json(metrics.fwt)},
                        {"forgetting", to_json(metrics.forgetting)},
                        {"clipped_forgetting", to_json(metrics.clipped_forgetting)},
                        {"perplexity_drift", to_json(metrics.perplexity_drift)}};
  if (metrics.class_incremental) {
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& value : metrics.incremental_accuracy) steps.push_back(to_json(value));
    out["incremental_accuracy"] = steps;
    out["last_accuracy"] = to_json(metrics.last_accuracy);
    out["average_incremental_accuracy"] = to_json(metrics.average_incremental_accuracy);
  }
  return out;
}

}  // namespace retain::eval
