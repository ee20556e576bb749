// report.cpp - report.md, report.svg and the comparison table.
#include "eval/report.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "eval/metrics.h"
#include "io/atomic-file.h"

namespace retain::eval {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kUnmeasured = "·";

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

// Text for one Markdown table cell.
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

// A settings value as a person writes it: strings without quotes.
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
      {"BWT", metrics.bwt, "backward transfer (Lopez-Paz): `(1/(T−1)) Σ_{i<T} (R[T][i] − R[i][i])`; negative = forgetting"},
      {"FWT", metrics.fwt, "forward transfer: `(1/(T−1)) Σ_{2≤i≤T} (R[i−1][i] − base[i])`"},
      {"forgetting", metrics.forgetting,
       "Chaudhry: `(1/(T−1)) Σ_{i<T} max_{i≤l≤T−1} (R[l][i] − R[T][i])`, the mean fall from the best earlier score"},
      {"clipped forgetting", metrics.clipped_forgetting,
       "TreeLoRA: `−(1/T) Σ_{i≤T} min(R[T][i] − R[i][i], 0)`, gains counted as 0; lower is better"},
  };
  if (metrics.class_incremental) {
    lines.push_back({"A_T", metrics.last_accuracy,
                     "last accuracy: over the test examples of every seen class after the last task (`A_t` weights `R[t][i]` by test size)"});
    lines.push_back({"Ā", metrics.average_incremental_accuracy, "average incremental accuracy: `(1/T) Σ_{t≤T} A_t`"});
  }
  lines.push_back({"perplexity drift", metrics.perplexity_drift, "general-text perplexity after − before; positive = worse"});
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
  if (model == nullptr || (model->is_string() && model->get<std::string>().empty())) model = setting(settings, "model", "init");
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

// SVG text content and attribute values.
std::string xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// At most `limit` characters (UTF-8 aware), with an ellipsis when cut.
std::string shorten(const std::string& text, size_t limit) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > limit) return text.substr(0, i) + "…";
  }
  return text;
}

size_t char_count(const std::string& text) {
  return std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Viridis at five stops, interpolated: 0 dark violet .. 100 yellow.
std::string heat_colour(double value) {
  static const double kStops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  const double x = std::clamp(value / 100.0, 0.0, 1.0) * 4;
  const int low = std::min(static_cast<int>(x), 3);
  const double f = x - low;
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", static_cast<int>(std::lround(kStops[low][0] + f * (kStops[low + 1][0] - kStops[low][0]))),
                static_cast<int>(std::lround(kStops[low][1] + f * (kStops[low + 1][1] - kStops[low][1]))),
                static_cast<int>(std::lround(kStops[low][2] + f * (kStops[low + 1][2] - kStops[low][2]))));
  return buffer;
}

// Matplotlib's tab10, one per task, repeating after ten.
const char* line_colour(size_t task) {
  static const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColours[task % 10];
}

std::string px(double value) { return format("%.1f", value); }

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
  if (metrics.completed_tasks < count) out << " (partial run: the metrics cover the " << metrics.completed_tasks << " trained)";
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
    out << "## General-text perplexity\n\n" << table_row({"before", "after", "drift"})
        << table_row({"---:", "---:", "---:"})
        << table_row({fixed2(result.general_ppl_before), fixed2(result.general_ppl_after), fixed2(metrics.perplexity_drift)})
        << "\n";
  }
  if (result.retention_before || result.retention_after) {
    out << "## Pretraining task ([retention], nearest class mean)\n\n" << table_row({"before", "after"})
        << table_row({"---:", "---:"}) << table_row({fixed2(result.retention_before), fixed2(result.retention_after)})
        << "\n";
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

std::string report_svg(const RunResult& result, const std::string& name) {
  constexpr double kCellW = 56, kCellH = 28, kCharW = 7, kGap = 70, kLegendRow = 16;
  constexpr size_t kLabelChars = 16;
  const size_t count = result.tasks.size();
  const auto completed = static_cast<size_t>(completed_tasks(result));
  std::vector<std::string> labels;
  size_t label_chars = 0;
  for (const auto& task : result.tasks) {
    labels.push_back(shorten(task, kLabelChars));
    label_chars = std::max(label_chars, char_count(labels.back()));
  }
  // Heat map: row labels "after <task>" on the left, column labels rotated above.
  const double left = 10 + kCharW * static_cast<double>(label_chars + 6);
  const double top = 40 + kCharW * static_cast<double>(label_chars) * 0.71 + 10;
  const double map_h = kCellH * static_cast<double>(count);
  // Line chart to the right: x = after task t (1..T), y = score; legend beside it.
  const double chart_x = left + kCellW * static_cast<double>(count) + kGap;
  const double chart_w = std::max(300.0, 28.0 * static_cast<double>(count));
  const double chart_h = std::max(200.0, map_h);
  const double legend_x = chart_x + chart_w + 20;
  const std::string title = name + ": accuracy matrix R and scores over the stream";
  const double width = std::max(legend_x + 30 + kCharW * static_cast<double>(label_chars) + 10,
                                20 + 9 * static_cast<double>(char_count(title)));
  const double height = top + std::max(chart_h + 40, kLegendRow * static_cast<double>(count)) + 10;
  double y_max = 100;
  for (size_t t = 0; t < completed; ++t) {
    for (const auto& value : result.R[t]) {
      if (value) y_max = std::max(y_max, std::ceil(*value / 20) * 20);  // quarters stay whole numbers
    }
  }
  auto chart_px = [&](size_t t, double value) {
    const double x = count == 1 ? chart_x + chart_w / 2 : chart_x + chart_w * static_cast<double>(t) / static_cast<double>(count - 1);
    const double y = top + chart_h - chart_h * std::max(value, 0.0) / y_max;
    return std::make_pair(x, y);
  };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << px(width) << "\" height=\"" << px(height)
      << "\" viewBox=\"0 0 " << px(width) << " " << px(height) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">" << xml(title) << "</text>\n";
  for (size_t i = 0; i < count; ++i) {
    const double x = left + kCellW * (static_cast<double>(i) + 0.5);
    svg << "<text x=\"" << px(x) << "\" y=\"" << px(top - 6) << "\" transform=\"rotate(-45 " << px(x) << " " << px(top - 6)
        << ")\">" << xml(labels[i]) << "</text>\n";
  }
  for (size_t t = 0; t < count; ++t) {
    const double y = top + kCellH * static_cast<double>(t);
    svg << "<text x=\"" << px(left - 6) << "\" y=\"" << px(y + kCellH / 2 + 4) << "\" text-anchor=\"end\">after "
        << xml(labels[t]) << "</text>\n";
    for (size_t i = 0; i < count; ++i) {
      if (!result.R[t][i]) continue;
      const double value = *result.R[t][i];
      const double x = left + kCellW * static_cast<double>(i);
      svg << "<rect class=\"cell\" x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(kCellW) << "\" height=\""
          << px(kCellH) << "\" fill=\"" << heat_colour(value) << "\" stroke=\"#ffffff\"/>\n";
      svg << "<text x=\"" << px(x + kCellW / 2) << "\" y=\"" << px(y + kCellH / 2 + 4) << "\" text-anchor=\"middle\" font-size=\"11\" fill=\""
          << (value < 60 ? "#ffffff" : "#000000") << "\">" << format("%.1f", value) << "</text>\n";
    }
  }
  // Axes with ticks at quarters of the score range and at every task.
  svg << "<g stroke=\"#000000\" fill=\"none\">\n";
  svg << "<line x1=\"" << px(chart_x) << "\" y1=\"" << px(top) << "\" x2=\"" << px(chart_x) << "\" y2=\"" << px(top + chart_h) << "\"/>\n";
  svg << "<line x1=\"" << px(chart_x) << "\" y1=\"" << px(top + chart_h) << "\" x2=\"" << px(chart_x + chart_w) << "\" y2=\""
      << px(top + chart_h) << "\"/>\n";
  svg << "</g>\n";
  for (int q = 0; q <= 4; ++q) {
    const double value = y_max * q / 4;
    const double y = chart_px(0, value).second;
    svg << "<text x=\"" << px(chart_x - 6) << "\" y=\"" << px(y + 4) << "\" text-anchor=\"end\">" << format("%.0f", value) << "</text>\n";
  }
  for (size_t t = 0; t < count; ++t) {
    svg << "<text x=\"" << px(chart_px(t, 0).first) << "\" y=\"" << px(top + chart_h + 16) << "\" text-anchor=\"middle\">" << t + 1
        << "</text>\n";
  }
  svg << "<text x=\"" << px(chart_x + chart_w / 2) << "\" y=\"" << px(top + chart_h + 34) << "\" text-anchor=\"middle\">after task</text>\n";
  const double label_y = top + chart_h / 2;
  svg << "<text x=\"" << px(chart_x - 36) << "\" y=\"" << px(label_y) << "\" text-anchor=\"middle\" transform=\"rotate(-90 "
      << px(chart_x - 36) << " " << px(label_y) << ")\">score</text>\n";
  // One curve per task i: its score after each completed task t ≥ i.
  for (size_t i = 0; i < count; ++i) {
    std::string points;
    for (size_t t = i; t < completed; ++t) {
      if (!result.R[t][i]) continue;
      const auto [x, y] = chart_px(t, *result.R[t][i]);
      points += (points.empty() ? "" : " ") + px(x) + "," + px(y);
      svg << "<circle cx=\"" << px(x) << "\" cy=\"" << px(y) << "\" r=\"3\" fill=\"" << line_colour(i) << "\"/>\n";
    }
    if (!points.empty()) {
      svg << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << line_colour(i) << "\" stroke-width=\"2\"/>\n";
    }
    const double y = top + kLegendRow * static_cast<double>(i);
    svg << "<line x1=\"" << px(legend_x) << "\" y1=\"" << px(y + 8) << "\" x2=\"" << px(legend_x + 20) << "\" y2=\"" << px(y + 8)
        << "\" stroke=\"" << line_colour(i) << "\" stroke-width=\"2\"/>\n";
    svg << "<text x=\"" << px(legend_x + 26) << "\" y=\"" << px(y + 12) << "\">" << xml(labels[i]) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void report_write(const RunResult& result, const std::string& run_dir) {
  std::error_code error;  // a folder that cannot be made shows as the named write error below
  fs::create_directories(run_dir, error);
  const std::string name = run_name(result, run_dir);
  run_result_write(result, (fs::path(run_dir) / kMatrixFile).string());
  io::write_file_atomic((fs::path(run_dir) / "report.md").string(), report_markdown(result, name));
  io::write_file_atomic((fs::path(run_dir) / "report.svg").string(), report_svg(result, name));
}

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
    std::vector<std::string> cells = {cell(name), cell(method_name(result)),
                                      std::to_string(metrics.completed_tasks) + "/" + std::to_string(result.tasks.size()),
                                      fixed2(metrics.average_accuracy), fixed2(metrics.bwt), fixed2(metrics.fwt),
                                      fixed2(metrics.forgetting), fixed2(metrics.clipped_forgetting)};
    if (any_incremental) cells.insert(cells.end(), {fixed2(metrics.last_accuracy), fixed2(metrics.average_incremental_accuracy)});
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
  return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) ? run.substr(0, at) : run;
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
  // streams, ppl drift needs [eval] general_text, retention a [retention] task.
  const auto any = [&](auto has) { return std::any_of(runs.begin(), runs.end(), [&](const auto& run) { return has(run.second); }); };
  const bool incremental = any([](const RunResult& r) { return r.class_incremental; });
  const bool drift_measured = any([](const RunResult& r) { return r.general_ppl_before && r.general_ppl_after; });
  const bool retention_measured = any([](const RunResult& r) { return r.retention_after.has_value(); });
  std::vector<std::string> header = {"run", "method", "seeds", "LR", "eff. batch", "AA", "BWT", "FWT"};
  if (incremental) header.insert(header.end(), {"A_T", "Ā", "forgetting"});
  if (drift_measured) header.push_back("ppl drift");
  if (retention_measured) header.push_back("pretrain acc");
  header.insert(header.end(), {"train s", "peak memory (MB)"});
  std::vector<std::string> rule = {"---", "---"};
  rule.resize(header.size(), "---:");
  std::string text = table_row(header) + table_row(rule);
  for (const auto& group : order) {
    const auto& members = groups[group];
    std::vector<std::optional<double>> aa, bwt, fwt, last, incremental_mean, forgetting, drift, retention, seconds, memory;
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
      seconds.push_back(result->task_seconds.empty() ? std::nullopt : std::optional<double>(total_seconds(*result)));
      memory.push_back(result->peak_memory_bytes > 0 ? std::optional<double>(result->peak_memory_bytes / 1e6) : std::nullopt);
    }
    const auto& settings = members.front()->settings;
    const json* lr = setting(settings, "train", "lr");
    const json* batch = setting(settings, "train", "effective_batch");
    std::vector<std::string> cells = {cell(group), cell(method_name(*members.front())), std::to_string(members.size()),
                                      lr != nullptr ? setting_text(*lr) : kUnmeasured,
                                      batch != nullptr ? setting_text(*batch) : kUnmeasured,
                                      mean_sd(aa), mean_sd(bwt), mean_sd(fwt)};
    if (incremental) cells.insert(cells.end(), {mean_sd(last), mean_sd(incremental_mean), mean_sd(forgetting)});
    if (drift_measured) cells.push_back(mean_sd(drift));
    if (retention_measured) cells.push_back(mean_sd(retention));
    cells.insert(cells.end(), {mean_sd(seconds, "%.0f"), mean_sd(memory, "%.0f")});
    text += table_row(cells);
  }
  return text;
}

}  // namespace retain::eval
