// prepare-internal.h - what the builders (prepare-<name>.cpp) share: a builder reads its sources and
// returns the whole benchmark in memory as a Build; prepare.cpp checks packages, then writes the Build
// (files, tasks.toml, manifest.json) atomically. The helpers are in prepare-common.cpp, the two
// describing files in prepare-metadata.cpp, the folder write in prepared-folder.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/stream-config.h"
#include "data/prepare.h"
#include "data/task-data.h"

namespace retain::data {

struct Build {
  std::map<std::string, std::string> files;  // path relative to the folder -> content
  std::vector<config::TaskConfig> tasks;     // paths relative to the folder (or absolute)
  std::vector<PreparedTask> counts;          // one per task, same order
  std::vector<std::string> sources;          // the files read
  nlohmann::ordered_json settings;           // the effective sizes, for the manifest
  nlohmann::ordered_json facts;              // builder-specific manifest entries (class names, pool sizes)
  std::string tasks_note;                    // comment lines appended to tasks.toml (optional)
};

// A text example before rendering: generation {"input","output"}, classification {"text","label"}.
struct Pair {
  std::string first, second;
};

struct Splits {
  std::vector<Pair> train, valid, test;
};

struct Caps {
  int64_t train = 0, valid = 0, test = 0;
};

// The caps from the options: the builder's defaults where an option is 0, valid = test / 2 by default.
Caps caps_from(const PrepareOptions& options, int64_t default_train, int64_t default_test);

// Shuffles `items` with `seed`, then deals test first, then valid, then train (so the test set does
// not change when only max_train changes).
Splits split_items(std::vector<Pair> items, uint64_t seed, const Caps& caps);

// Writes NAME/{train,valid,test}.jsonl for `task` (its kind picks the JSON keys), fills in the paths
// and records the counts. An empty valid split writes no file; an empty train or test split is an error.
void add_jsonl_task(Build& build, config::TaskConfig task, const Splits& splits, std::vector<std::string> classes = {});

// Writes NAME/{train,test}-{images,labels}.idx for the image-classification `task` (plain IDX), fills
// in the paths and records the counts; `classes` are the class names. An empty split is an error.
void add_image_task(Build& build, config::TaskConfig task, const ImageExamples& train, const ImageExamples& test,
                    std::vector<std::string> classes);

// A generation task's settings (paths are filled in by add_jsonl_task).
config::TaskConfig generation_task(const std::string& name, const std::string& template_, const std::string& metric,
                                   int64_t max_new_tokens);

// Words separated by whitespace.
int64_t word_count(const std::string& text);

// tasks.toml: the [[task]] tables of the build, paths relative to the folder, then build.tasks_note.
std::string tasks_toml(const std::string& name, const PrepareOptions& options, const Build& build);
// manifest.json: builder, seed, settings, packages with their installed versions, sources, per-task
// files and counts, then build.facts.
std::string manifest_json(const BuilderInfo& info, const PrepareOptions& options, const Build& build);

Build build_split_fashion_mnist(const PrepareOptions& options);
Build build_wordnet_supersense(const PrepareOptions& options);
Build build_wordnet_probe(const PrepareOptions& options);
Build build_wordnet_relations(const PrepareOptions& options);
Build build_instructions(const PrepareOptions& options);
Build build_general_text(const PrepareOptions& options);
Build build_mnist(const PrepareOptions& options);
Build build_split_opencv_digits(const PrepareOptions& options);

}  // namespace retain::data
