// report.cpp - report.md (the matrix, metrics, perplexity, training time, configuration), the
// helpers the report files share, and report_write (matrix.json, report.md, report.svg).
#include "eval/report.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "eval/metrics.h"
#include "eval/report-internal.h"
#include "io/atomic-file.h"

namespace retain::eval {

namespace report_internal {

using nlohmann::json;

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  std::string text = buffer;
  // A value that rounds to zero prints without a sign.
  if (text[0] == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

std::string fixed2(const std::optional<double>& value) { return value ? format("%.2f", *value) : kUnmeasured; }

std::string bytes_text(int64_t bytes) {
  if (bytes <= 0) return kUnmeasured;
  const double mib = static_cast<double>(bytes) / (1024.0 * 1024.0);
  return mib >= 1024 ? format("%.2f", mib / 1024) + " GiB" : format("%.1f", mib) + " MiB";
}

double total_seconds(const RunResult& result) {
  double total = 0;
  for (double seconds : result.task_seconds) total += seconds;
  return total;
}

std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else {
      out += c == '\n' || c == '\r' ? ' ' : c;
    }
  }
  return out;
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const auto& text : cells) row += " " + text + " |";
  return row + "\n";
}

std::string setting_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

const json* setting(const json& settings, const char* section, const char* key) {
  if (!settings.is_object() || !settings.contains(section) || !settings[section].is_object()) return nullptr;
  const auto& object = settings[section];
  return object.contains(key) ? &object[key] : nullptr;
}

std::string method_name(const RunResult& result) {
  const json* name = setting(result.settings, "method", "name");
  return name != nullptr ? setting_text(*name) : kUnmeasured;
}

}  // namespace report_internal

using namespace report_internal;

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string method_summary(const json& method) {
  std::string text = method.contains("name") ? setting_text(method["name"]) : "?";
  std::string options;
  for (const auto& [key, value] : method.items()) {
    if (key == "name") continue;
    options += (options.empty() ? "" : ", ") + key + "=" + setting_text(value);
  }
  return options.empty() ? text : text + " (" + options + ")";
}

// The matrix with task names as columns and "after <task>" rows; base, metric names and test sizes
// as extra rows when known, and A_t as an extra column for class-incremental runs.
std::string markdown_matrix(const RunResult& result, const Metrics& metrics) {
  std::vector<std::string> header = {"R[t][i]"}, rule = {"---"};
  for (const auto& task : result.tasks) {
    header.push_back(cell(task));
    rule.push_back("---:");
  }
  if (metrics.class_incremental) {
    header.push_back("A_t");
    rule.push_back("---:");
  }
  std::string text = table_row(header) + table_row(rule);
  auto add_row = [&](std::vector<std::string> cells, const std::string& last_column) {
    if (metrics.class_incremental) cells.push_back(last_column);
    text += table_row(cells);
  };
  if (!result.metric_names.empty()) {
    std::vector<std::string> cells = {"metric"};
    cells.insert(cells.end(), result.metric_names.begin(), result.metric_names.end());
    add_row(cells, "");
  }
  if (!result.test_sizes.empty()) {
    std::vector<std::string> cells = {"test examples"};
    for (int64_t size : result.test_sizes) cells.push_back(std::to_string(size));
    add_row(cells, "");
  }
  if (std::any_of(result.base.begin(), result.base.end(), [](const auto& value) { return value.has_value(); })) {
    std::vector<std::string> cells = {"base"};
    for (const auto& value : result.base) cells.push_back(fixed2(value));
    add_row(cells, "");
  }
  for (size_t t = 0; t < result.tasks.size(); ++t) {
    std::vector<std::string> cells = {"after " + cell(result.tasks[t])};
    for (const auto& value : result.R[t]) cells.push_back(fixed2(value));
    add_row(cells, t < metrics.incremental_accuracy.size() ? fixed2(metrics.incremental_accuracy[t]) : kUnmeasured);
  }
  return text;
}

std::string markdown_metrics(const Metrics& metrics) {
  struct Line {
    const char* name;
    std::optional<double> value;
    const char* definition;
  };
  std::vector<Line> lines = {
      {"AA", metrics.average_accuracy, "average accuracy after the last task: `(1/T) Σ_{i≤T} R[T][i]`"},
      {"BWT", metrics.bwt,
       "backward transfer (Lopez-Paz): `(1/(T−1)) Σ_{i<T} (R[T][i] − R[i][i])`; negative = forgetting"},
      {"FWT", metrics.fwt, "forward transfer: `(1/(T−1)) Σ_{2≤i≤T} (R[i−1][i] − base[i])`"},
      {"forgetting", metrics.forgetting,
       "Chaudhry: `(1/(T−1)) Σ_{i<T} max_{i≤l≤T−1} (R[l][i] − R[T][i])`, the mean fall from the best earlier score"},
      {"clipped forgetting", metrics.clipped_forgetting,
       "TreeLoRA: `−(1/T) Σ_{i≤T} min(R[T][i] − R[i][i], 0)`, gains counted as 0; lower is better"},
  };
  if (metrics.class_incremental) {
    lines.push_back({"A_T", metrics.last_accuracy,
                     "last accuracy: over the test examples of every seen class after the last task (`A_t` weights "
                     "`R[t][i]` by test size)"});
    lines.push_back({"Ā", metrics.average_incremental_accuracy, "average incremental accuracy: `(1/T) Σ_{t≤T} A_t`"});
  }
  lines.push_back(
      {"perplexity drift", metrics.perplexity_drift, "general-text perplexity after − before; positive = worse"});
  std::string text = table_row({"metric", "value", "definition"}) + table_row({"---", "---:", "---"});
  for (const auto& line : lines) text += table_row({line.name, fixed2(line.value), line.definition});
  return text;
}

std::string markdown_config(const json& settings) {
  std::vector<std::pair<std::string, std::string>> rows;
  if (settings.is_object() && settings.contains("method") && settings["method"].is_object()) {
    rows.emplace_back("method", method_summary(settings["method"]));
  }
  const json* model = setting(settings, "model", "path");
  if (model == nullptr || (model->is_string() && model->get<std::string>().empty()))
    model = setting(settings, "model", "init");
  if (model != nullptr) rows.emplace_back("model", setting_text(*model));
  const std::array<std::array<const char*, 3>, 4> keys = {{{"train", "lr", "learning rate"},
                                                           {"train", "batch_size", "batch size"},
                                                           {"train", "epochs", "epochs"},
                                                           {"run", "seed", "seed"}}};
  for (const auto& [section, key, label] : keys) {
    if (const json* value = setting(settings, section, key)) rows.emplace_back(label, setting_text(*value));
  }
  if (rows.empty()) return "";
  std::string text = "## Configuration\n\n" + table_row({"setting", "value"}) + table_row({"---", "---"});
  for (const auto& [label, value] : rows) text += table_row({label, cell(value)});
  return text + "\n";
}

}  // namespace

std::string run_name(const RunResult& result, const std::string& run_dir) {
  if (const json* name = setting(result.settings, "run", "name")) {
    if (name->is_string() && !name->get<std::string>().empty()) return name->get<std::string>();
  }
  auto path = fs::absolute(run_dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().string();
}

std::string report_markdown(const RunResult& result, const std::string& name) {
  const auto metrics = metrics_compute(result);
  const auto count = static_cast<int64_t>(result.tasks.size());
  std::ostringstream out;
  out << "# retain report: " << name << "\n\n";
  out << count << (count == 1 ? " task" : " tasks") << ", " << metrics.completed_tasks << " trained";
  if (metrics.completed_tasks < count)
    out << " (partial run: the metrics cover the " << metrics.completed_tasks << " trained)";
  out << ".\n\n";
  out << "## Accuracy matrix\n\n";
  out << "R[t][i]: score (0–100) on task i (column) right after training task t (row); `" << kUnmeasured
      << "` = not measured.\n\n";
  out << markdown_matrix(result, metrics) << "\n";
  std::vector<std::string> perplexity_tasks;
  for (size_t i = 0; i < result.metric_names.size(); ++i) {
    if (result.metric_names[i] == "perplexity") perplexity_tasks.push_back(result.tasks[i]);
  }
  if (!perplexity_tasks.empty()) {
    out << "Scored by perplexity (lower is better; entered into the metrics as is):";
    for (const auto& task : perplexity_tasks) out << " " << task;
    out << ".\n\n";
  }
  out << "![heat map of R and the forgetting curves](report.svg)\n\n";
  out << "## Metrics (T = " << metrics.completed_tasks << ")\n\n" << markdown_metrics(metrics) << "\n";
  if (result.general_ppl_before || result.general_ppl_after) {
    out << "## General-text perplexity\n\n"
        << table_row({"before", "after", "drift"}) << table_row({"---:", "---:", "---:"})
        << table_row(
               {fixed2(result.general_ppl_before), fixed2(result.general_ppl_after), fixed2(metrics.perplexity_drift)})
        << "\n";
  }
  if (result.retention_before || result.retention_after) {
    out << "## Pretraining task ([retention], nearest class mean)\n\n"
        << table_row({"before", "after"}) << table_row({"---:", "---:"})
        << table_row({fixed2(result.retention_before), fixed2(result.retention_after)}) << "\n";
  }
  if (result.probe_before || result.probe_after) {
    const std::optional<double> change = result.probe_before && result.probe_after
                                             ? std::optional<double>(*result.probe_after - *result.probe_before)
                                             : std::nullopt;
    out << "## General ability: multiple-choice probe ([eval] probe, accuracy by log-likelihood)\n\n"
        << table_row({"before", "after", "change"}) << table_row({"---:", "---:", "---:"})
        << table_row({fixed2(result.probe_before), fixed2(result.probe_after), fixed2(change)}) << "\n";
  }
  if (!result.task_seconds.empty() || result.peak_memory_bytes > 0) {
    out << "## Training\n\n" << table_row({"task", "seconds"}) << table_row({"---", "---:"});
    for (size_t t = 0; t < result.task_seconds.size(); ++t) {
      out << table_row({cell(result.tasks[t]), format("%.1f", result.task_seconds[t])});
    }
    out << table_row({"total", format("%.1f", total_seconds(result))}) << "\n";
    out << "Peak memory: " << bytes_text(result.peak_memory_bytes) << ".\n\n";
  }
  out << markdown_config(result.settings);
  return out.str();
}

void report_write(const RunResult& result, const std::string& run_dir) {
  std::error_code error;  // a folder that cannot be made shows as the named write error below
  fs::create_directories(run_dir, error);
  const std::string name = run_name(result, run_dir);
  run_result_write(result, (fs::path(run_dir) / kMatrixFile).string());
  io::write_file_atomic((fs::path(run_dir) / "report.md").string(), report_markdown(result, name));
  io::write_file_atomic((fs::path(run_dir) / "report.svg").string(), report_svg(result, name));
}

}  // namespace retain::eval
