// report.h - what a person reads about a run: report.md (the accuracy matrix as a table, the
// metrics with their definitions, general-text perplexity, training time, the configuration) and
// report.svg (a heat map of R beside each task's score over the stream, the forgetting curves),
// and the table that compares several runs. Output is deterministic and needs nothing external.
//
// The configuration summary reads these keys of RunResult::settings when present (the stream file's
// layout): run.name, run.seed, model.path or model.init, method.name and the other method keys,
// train.lr, train.batch_size, train.epochs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "eval/run-result.h"

namespace retain::eval {

// settings.run.name when it is a non-empty string, else the name of the folder `run_dir`.
std::string run_name(const RunResult& result, const std::string& run_dir);

std::string report_markdown(const RunResult& result, const std::string& name);
// One <rect class="cell"> per measured entry of R.
std::string report_svg(const RunResult& result, const std::string& name);

// Writes RUN_DIR/matrix.json (with freshly computed metrics), report.md and report.svg, each
// atomically; creates RUN_DIR when missing.
void report_write(const RunResult& result, const std::string& run_dir);

// A Markdown table, one row per (name, result): method, completed tasks, AA, BWT, FWT, forgetting,
// clipped forgetting, A_T and Ā (when any run is class-incremental), perplexity drift, training
// seconds, peak memory.
std::string compare_table(const std::vector<std::pair<std::string, RunResult>>& runs);
// One row per group of runs that differ only in their seed, named "<group>-seed<N>": mean ± sample
// standard deviation of AA, BWT, FWT, A_T, Ā and forgetting (class-incremental streams), perplexity
// drift and pretraining-task accuracy after the stream (when measured), training time and peak
// memory, with the group's learning rate and effective batch.
std::string compare_table_by_seed(const std::vector<std::pair<std::string, RunResult>>& runs);

}  // namespace retain::eval
