// run-result.cpp - matrix.json: shape checks, JSON in and out.
#include "eval/run-result.h"

#include <cmath>
#include <cstdint>
#include <set>

#include "error.h"
#include "eval/metrics.h"
#include "io/atomic-file.h"
#include "io/file-read.h"

namespace retain::eval {

namespace {

using nlohmann::json;

const std::set<std::string> kTaskMetrics = {"exact_match", "accuracy", "rouge_l", "perplexity"};

bool row_has_score(const std::vector<std::optional<double>>& row) {
  for (const auto& value : row) {
    if (value) return true;
  }
  return false;
}

json optional_to_json(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

json optionals_to_json(const std::vector<std::optional<double>>& values) {
  json list = json::array();
  for (const auto& value : values) list.push_back(optional_to_json(value));
  return list;
}

// Reads JSON fields of matrix.json with errors naming the file and the field.
class Reader {
 public:
  Reader(const json& root, const std::string& source) : root_(root), source_(source) {}

  const json* find(const char* key) const {
    auto it = root_.find(key);
    return it == root_.end() ? nullptr : &*it;
  }

  const json& require(const char* key) const {
    const json* value = find(key);
    if (value == nullptr) fail("eval", source_, ": \"", key, "\" is missing");
    return *value;
  }

  const json& array(const json& value, const std::string& what) const {
    if (!value.is_array()) wrong_type(value, what, "a list");
    return value;
  }

  std::optional<double> number_or_null(const json& value, const std::string& what) const {
    if (value.is_null()) return std::nullopt;
    if (!value.is_number()) wrong_type(value, what, "a number or null");
    return value.get<double>();
  }

  std::vector<std::optional<double>> numbers_or_nulls(const json& value, const std::string& what) const {
    std::vector<std::optional<double>> values;
    for (size_t i = 0; i < array(value, what).size(); ++i) {
      values.push_back(number_or_null(value[i], what + " entry " + std::to_string(i + 1)));
    }
    return values;
  }

  std::string string(const json& value, const std::string& what) const {
    if (!value.is_string()) wrong_type(value, what, "a string");
    return value.get<std::string>();
  }

  std::vector<std::string> strings(const json& value, const std::string& what) const {
    std::vector<std::string> values;
    for (size_t i = 0; i < array(value, what).size(); ++i) {
      values.push_back(string(value[i], what + " entry " + std::to_string(i + 1)));
    }
    return values;
  }

  int64_t integer(const json& value, const std::string& what) const {
    if (!value.is_number_integer()) wrong_type(value, what, "an integer");
    return value.get<int64_t>();
  }

  double number(const json& value, const std::string& what) const {
    if (!value.is_number()) wrong_type(value, what, "a number");
    return value.get<double>();
  }

 private:
  [[noreturn]] void wrong_type(const json& value, const std::string& what, const char* expected) const {
    const std::string type = value.type_name();
    const bool vowel = type[0] == 'a' || type[0] == 'o';
    fail("eval", source_, ": ", what, " is ", value.is_null() ? "null" : (vowel ? "an " : "a ") + type, ", expected ",
         expected);
  }

  const json& root_;
  const std::string& source_;
};

}  // namespace

RunResult run_result_new(std::vector<std::string> tasks, std::vector<std::string> metric_names) {
  RunResult result;
  const size_t count = tasks.size();
  result.tasks = std::move(tasks);
  result.metric_names = std::move(metric_names);
  result.R.assign(count, std::vector<std::optional<double>>(count));
  result.base.assign(count, std::nullopt);
  return result;
}

int64_t completed_tasks(const RunResult& result) {
  for (auto t = static_cast<int64_t>(result.R.size()); t > 0; --t) {
    if (row_has_score(result.R[t - 1])) return t;
  }
  return 0;
}

void run_result_check(const RunResult& result, const std::string& source) {
  const size_t count = result.tasks.size();
  if (count == 0) fail("eval", source, ": \"tasks\" is empty");
  std::set<std::string> seen;
  for (size_t i = 0; i < count; ++i) {
    if (result.tasks[i].empty()) fail("eval", source, ": \"tasks\" entry ", i + 1, " is an empty name");
    if (!seen.insert(result.tasks[i]).second) {
      fail("eval", source, ": \"tasks\" names '", result.tasks[i], "' twice");
    }
  }
  auto check_size = [&](size_t size, const char* field) {
    if (size != 0 && size != count) {
      fail("eval", source, ": \"", field, "\" has ", size, " entries, expected ", count, " (one per task)");
    }
  };
  check_size(result.metric_names.size(), "metric_names");
  for (size_t i = 0; i < result.metric_names.size(); ++i) {
    if (kTaskMetrics.count(result.metric_names[i]) == 0) {
      fail("eval", source, ": \"metric_names\" entry ", i + 1, " is '", result.metric_names[i],
           "' (known: exact_match, accuracy, rouge_l, perplexity)");
    }
  }
  if (result.R.size() != count) {
    fail("eval", source, ": \"R\" has ", result.R.size(), " rows, expected ", count, " (one per task)");
  }
  for (size_t t = 0; t < count; ++t) {
    const auto& row = result.R[t];
    if (row.size() != count)
      fail("eval", source, ": \"R\" row ", t + 1, " has ", row.size(), " entries, expected ", count);
    for (size_t i = 0; i < count; ++i) {
      if (row[i] && !std::isfinite(*row[i]))
        fail("eval", source, ": \"R\" row ", t + 1, " entry ", i + 1, " is not finite");
    }
  }
  check_size(result.base.size(), "base");
  for (size_t i = 0; i < result.base.size(); ++i) {
    if (result.base[i] && !std::isfinite(*result.base[i]))
      fail("eval", source, ": \"base\" entry ", i + 1, " is not finite");
  }
  check_size(result.test_sizes.size(), "test_sizes");
  for (size_t i = 0; i < result.test_sizes.size(); ++i) {
    if (result.test_sizes[i] < 0) fail("eval", source, ": \"test_sizes\" entry ", i + 1, " is negative");
  }
  if (result.task_seconds.size() > count) {
    fail("eval", source, ": \"task_seconds\" has ", result.task_seconds.size(), " entries, expected at most ", count);
  }
  if (result.peak_memory_bytes < 0) fail("eval", source, ": \"peak_memory_bytes\" is negative");
}

json run_result_to_json(const RunResult& result) {
  json out;
  out["tasks"] = result.tasks;
  out["metric_names"] = result.metric_names;
  json rows = json::array();
  for (const auto& row : result.R) rows.push_back(optionals_to_json(row));
  out["R"] = rows;
  out["base"] = optionals_to_json(result.base);
  out["test_sizes"] = result.test_sizes;
  out["class_incremental"] = result.class_incremental;
  const auto metrics = metrics_compute(result);
  out["general_perplexity"] = {{"before", optional_to_json(result.general_ppl_before)},
                               {"after", optional_to_json(result.general_ppl_after)},
                               {"drift", optional_to_json(metrics.perplexity_drift)}};
  if (result.retention_before || result.retention_after) {
    out["retention"] = {{"before", optional_to_json(result.retention_before)},
                        {"after", optional_to_json(result.retention_after)}};
  }
  if (result.probe_before || result.probe_after) {
    out["probe"] = {{"before", optional_to_json(result.probe_before)}, {"after", optional_to_json(result.probe_after)}};
  }
  out["task_seconds"] = result.task_seconds;
  out["peak_memory_bytes"] = result.peak_memory_bytes;
  out["metrics"] = metrics_to_json(metrics);
  out["settings"] = result.settings.is_null() ? json::object() : result.settings;
  return out;
}

RunResult run_result_from_json(const json& root, const std::string& source) {
  if (!root.is_object()) fail("eval", source, ": the file is not a JSON object");
  Reader reader(root, source);
  RunResult result;
  result.tasks = reader.strings(reader.require("tasks"), "\"tasks\"");
  const json& rows = reader.array(reader.require("R"), "\"R\"");
  for (size_t t = 0; t < rows.size(); ++t) {
    result.R.push_back(reader.numbers_or_nulls(rows[t], "\"R\" row " + std::to_string(t + 1)));
  }
  if (const json* names = reader.find("metric_names")) result.metric_names = reader.strings(*names, "\"metric_names\"");
  if (const json* base = reader.find("base")) result.base = reader.numbers_or_nulls(*base, "\"base\"");
  if (const json* sizes = reader.find("test_sizes")) {
    for (size_t i = 0; i < reader.array(*sizes, "\"test_sizes\"").size(); ++i) {
      result.test_sizes.push_back(reader.integer((*sizes)[i], "\"test_sizes\" entry " + std::to_string(i + 1)));
    }
  }
  if (const json* cil = reader.find("class_incremental")) {
    if (!cil->is_boolean()) fail("eval", source, ": \"class_incremental\" is not true or false");
    result.class_incremental = cil->get<bool>();
  }
  if (const json* ppl = reader.find("general_perplexity")) {
    if (!ppl->is_object()) fail("eval", source, ": \"general_perplexity\" is not an object");
    if (ppl->contains("before"))
      result.general_ppl_before = reader.number_or_null(ppl->at("before"), "\"general_perplexity.before\"");
    if (ppl->contains("after"))
      result.general_ppl_after = reader.number_or_null(ppl->at("after"), "\"general_perplexity.after\"");
  }
  if (const json* retention = reader.find("retention")) {
    if (!retention->is_object()) fail("eval", source, ": \"retention\" is not an object");
    if (retention->contains("before"))
      result.retention_before = reader.number_or_null(retention->at("before"), "\"retention.before\"");
    if (retention->contains("after"))
      result.retention_after = reader.number_or_null(retention->at("after"), "\"retention.after\"");
  }
  if (const json* probe = reader.find("probe")) {
    if (!probe->is_object()) fail("eval", source, ": \"probe\" is not an object");
    if (probe->contains("before")) result.probe_before = reader.number_or_null(probe->at("before"), "\"probe.before\"");
    if (probe->contains("after")) result.probe_after = reader.number_or_null(probe->at("after"), "\"probe.after\"");
  }
  if (const json* seconds = reader.find("task_seconds")) {
    for (size_t i = 0; i < reader.array(*seconds, "\"task_seconds\"").size(); ++i) {
      result.task_seconds.push_back(reader.number((*seconds)[i], "\"task_seconds\" entry " + std::to_string(i + 1)));
    }
  }
  if (const json* peak = reader.find("peak_memory_bytes"))
    result.peak_memory_bytes = reader.integer(*peak, "\"peak_memory_bytes\"");
  if (const json* settings = reader.find("settings")) result.settings = *settings;
  run_result_check(result, source);
  return result;
}

RunResult run_result_read(const std::string& path) {
  const json root = json::parse(io::file_read(path, "eval"), nullptr, false);
  if (root.is_discarded()) fail("eval", path, ": not valid JSON");
  return run_result_from_json(root, path);
}

void run_result_write(const RunResult& result, const std::string& path) {
  run_result_check(result, path);
  io::write_file_atomic(path, run_result_to_json(result).dump(2) + "\n");
}

}  // namespace retain::eval
