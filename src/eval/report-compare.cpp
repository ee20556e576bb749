// report-compare.cpp - the tables that compare runs: one row per run, or per group of seeds.
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "eval/metrics.h"
#include "eval/report-internal.h"

namespace retain::eval {

using namespace report_internal;
using nlohmann::json;

std::string compare_table(const std::vector<std::pair<std::string, RunResult>>& runs) {
  const bool any_incremental =
      std::any_of(runs.begin(), runs.end(), [](const auto& run) { return run.second.class_incremental; });
  std::vector<std::string> header = {"run", "method", "tasks", "AA", "BWT", "FWT", "forgetting", "clipped forgetting"};
  if (any_incremental) header.insert(header.end(), {"A_T", "Ā"});
  header.insert(header.end(), {"ppl drift", "train s", "peak memory"});
  std::vector<std::string> rule = {"---", "---", "---:"};
  rule.resize(header.size(), "---:");
  std::string text = table_row(header) + table_row(rule);
  for (const auto& [name, result] : runs) {
    const auto metrics = metrics_compute(result);
    std::vector<std::string> cells = {
        cell(name),
        cell(method_name(result)),
        std::to_string(metrics.completed_tasks) + "/" + std::to_string(result.tasks.size()),
        fixed2(metrics.average_accuracy),
        fixed2(metrics.bwt),
        fixed2(metrics.fwt),
        fixed2(metrics.forgetting),
        fixed2(metrics.clipped_forgetting)};
    if (any_incremental)
      cells.insert(cells.end(), {fixed2(metrics.last_accuracy), fixed2(metrics.average_incremental_accuracy)});
    cells.insert(cells.end(), {fixed2(metrics.perplexity_drift),
                               result.task_seconds.empty() ? kUnmeasured : format("%.1f", total_seconds(result)),
                               bytes_text(result.peak_memory_bytes)});
    text += table_row(cells);
  }
  return text;
}

namespace {

std::string group_of(const std::string& run) {
  const auto at = run.rfind("-seed");
  if (at == std::string::npos || at + 5 == run.size()) return run;
  const auto digits = run.substr(at + 5);
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ? run.substr(0, at)
                                                                                                : run;
}

// "mean ± sd" over the values that are known ("—" when none; no ± for one value).
std::string mean_sd(const std::vector<std::optional<double>>& values, const char* pattern = "%.2f") {
  std::vector<double> known;
  for (const auto& v : values) {
    if (v) known.push_back(*v);
  }
  if (known.empty()) return kUnmeasured;
  const double mean = std::accumulate(known.begin(), known.end(), 0.0) / static_cast<double>(known.size());
  if (known.size() == 1) return format(pattern, mean);
  double squares = 0;
  for (double v : known) squares += (v - mean) * (v - mean);
  return format(pattern, mean) + " ± " + format(pattern, std::sqrt(squares / static_cast<double>(known.size() - 1)));
}

}  // namespace

std::string compare_table_by_seed(const std::vector<std::pair<std::string, RunResult>>& runs) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunResult*>> groups;
  for (const auto& [name, result] : runs) {
    const auto group = group_of(name);
    if (groups.count(group) == 0) order.push_back(group);
    groups[group].push_back(&result);
  }
  // Columns that no run measured are left out: A_T, Ā and forgetting are for class-incremental
  // streams, ppl drift needs [eval] general_text, retention a [retention] task, probe acc [eval] probe.
  const auto any = [&](auto has) {
    return std::any_of(runs.begin(), runs.end(), [&](const auto& run) { return has(run.second); });
  };
  const bool incremental = any([](const RunResult& r) { return r.class_incremental; });
  const bool drift_measured = any([](const RunResult& r) { return r.general_ppl_before && r.general_ppl_after; });
  const bool retention_measured = any([](const RunResult& r) { return r.retention_after.has_value(); });
  const bool probe_measured = any([](const RunResult& r) { return r.probe_after.has_value(); });
  std::vector<std::string> header = {"run", "method", "seeds", "LR", "eff. batch", "AA", "BWT", "FWT"};
  if (incremental) header.insert(header.end(), {"A_T", "Ā", "forgetting"});
  if (drift_measured) header.push_back("ppl drift");
  if (retention_measured) header.push_back("pretrain acc");
  if (probe_measured) header.push_back("probe acc");
  header.insert(header.end(), {"train s", "peak memory (MB)"});
  std::vector<std::string> rule = {"---", "---"};
  rule.resize(header.size(), "---:");
  std::string text = table_row(header) + table_row(rule);
  for (const auto& group : order) {
    const auto& members = groups[group];
    std::vector<std::optional<double>> aa, bwt, fwt, last, incremental_mean, forgetting, drift, retention, probe,
        seconds, memory;
    for (const auto* result : members) {
      const auto metrics = metrics_compute(*result);
      aa.push_back(metrics.average_accuracy);
      bwt.push_back(metrics.bwt);
      fwt.push_back(metrics.fwt);
      last.push_back(metrics.last_accuracy);
      incremental_mean.push_back(metrics.average_incremental_accuracy);
      forgetting.push_back(metrics.forgetting);
      drift.push_back(metrics.perplexity_drift);
      retention.push_back(result->retention_after);
      probe.push_back(result->probe_after);
      seconds.push_back(result->task_seconds.empty() ? std::nullopt : std::optional<double>(total_seconds(*result)));
      memory.push_back(result->peak_memory_bytes > 0 ? std::optional<double>(result->peak_memory_bytes / 1e6)
                                                     : std::nullopt);
    }
    const auto& settings = members.front()->settings;
    const json* lr = setting(settings, "train", "lr");
    const json* batch = setting(settings, "train", "effective_batch");
    std::vector<std::string> cells = {cell(group),
                                      cell(method_name(*members.front())),
                                      std::to_string(members.size()),
                                      lr != nullptr ? setting_text(*lr) : kUnmeasured,
                                      batch != nullptr ? setting_text(*batch) : kUnmeasured,
                                      mean_sd(aa),
                                      mean_sd(bwt),
                                      mean_sd(fwt)};
    if (incremental) cells.insert(cells.end(), {mean_sd(last), mean_sd(incremental_mean), mean_sd(forgetting)});
    if (drift_measured) cells.push_back(mean_sd(drift));
    if (retention_measured) cells.push_back(mean_sd(retention));
    if (probe_measured) cells.push_back(mean_sd(probe));
    cells.insert(cells.end(), {mean_sd(seconds, "%.0f"), mean_sd(memory, "%.0f")});
    text += table_row(cells);
  }
  return text;
}

}  // namespace retain::eval
