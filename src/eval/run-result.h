// run-result.h - what a continual-learning run measured: the accuracy matrix R and the numbers
// around it (base-model scores, test sizes, general-text perplexity, the probe, time, memory, settings), and
// its file runs/<name>/matrix.json. Everything the report and the metrics show is derived from
// this; the file also carries the derived metrics so that other tools need not recompute them.
//
// Tasks are 0-based here and in code, 1-based in formulas, messages and reports ("row 2" is
// R[1]). A run stopped part-way keeps its full T×T shape: rows of tasks not yet trained are all
// null, and the completed tasks run up to the last row that holds a score. Rows before it may be
// null too: joint multi-task training measures only the last row.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace retain::eval {

struct RunResult {
  std::vector<std::string> tasks;         // names in order
  std::vector<std::string> metric_names;  // per task: exact_match|accuracy|rouge_l|perplexity (or empty)
  std::vector<std::vector<std::optional<double>>>
      R;  // R[t][i]: score (0..100) on task i after training task t; nullopt = not measured (T×T)
  std::vector<std::optional<double>> base;  // score of the model before the stream on task i (for FWT), or empty
  std::vector<int64_t> test_sizes;          // test examples per task, or empty
  bool class_incremental = false;           // vision CIL: also A_t and average incremental accuracy
  std::optional<double> general_ppl_before, general_ppl_after;  // general-text perplexity drift
  std::optional<double> retention_before, retention_after;      // [retention] (pretraining task) accuracy
  std::optional<double> probe_before, probe_after;              // [eval] probe: multiple-choice accuracy
  std::vector<double> task_seconds;                             // training wall time per completed task
  int64_t peak_memory_bytes = 0;
  nlohmann::json settings;  // resolved run/model/method/train settings (opaque)
};

// The file name of a run's result inside its run folder.
inline constexpr const char* kMatrixFile = "matrix.json";

// A run about to start: T tasks, R all null (T×T), base all null, nothing else measured.
RunResult run_result_new(std::vector<std::string> tasks, std::vector<std::string> metric_names);

// The tasks trained so far: 1 + the index of the last row of R that holds a score.
int64_t completed_tasks(const RunResult& result);

// Checks shapes and values (one row and one entry per task, known metric names, finite scores,
// no scores after a row without any); errors name `source` and the field.
void run_result_check(const RunResult& result, const std::string& source);

// matrix.json content: every field above, and "metrics" as metrics_to_json gives it (metrics.h).
nlohmann::json run_result_to_json(const RunResult& result);
// Parses matrix.json content read from `source`; "metrics" is derived and not read back.
RunResult run_result_from_json(const nlohmann::json& json, const std::string& source);

RunResult run_result_read(const std::string& path);
// Checks, then writes atomically (a temporary file in the same folder renamed over `path`).
void run_result_write(const RunResult& result, const std::string& path);

}  // namespace retain::eval
