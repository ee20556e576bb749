// prepare-common.cpp - what every builder shares: caps, splitting, and the JSONL and IDX task files.
#include <algorithm>
#include <cstdint>
#include <sstream>
#include <tuple>
#include <utility>

#include "data/idx.h"
#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "error.h"

namespace retain::data {

Caps caps_from(const PrepareOptions& options, int64_t default_train, int64_t default_test) {
  for (const auto& [value, flag] : {std::pair<int64_t, const char*>{options.max_train, "--max-train"},
                                    {options.max_valid, "--max-valid"},
                                    {options.max_test, "--max-test"}}) {
    if (value < 0) fail("data", flag, " ", value, ": must be 0 (the default) or more");
  }
  Caps caps;
  caps.train = options.max_train > 0 ? options.max_train : default_train;
  caps.test = options.max_test > 0 ? options.max_test : default_test;
  caps.valid = options.max_valid > 0 ? options.max_valid : caps.test / 2;
  return caps;
}

Splits split_items(std::vector<Pair> items, uint64_t seed, const Caps& caps) {
  seeded_shuffle(items, seed);
  Splits splits;
  size_t at = 0;
  auto deal = [&](std::vector<Pair>& split, int64_t cap) {
    const size_t n = std::min(items.size() - at, static_cast<size_t>(cap));
    split.assign(items.begin() + static_cast<std::ptrdiff_t>(at), items.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  };
  deal(splits.test, caps.test);
  deal(splits.valid, caps.valid);
  deal(splits.train, caps.train);
  return splits;
}

void add_jsonl_task(Build& build, config::TaskConfig task, const Splits& splits, std::vector<std::string> classes) {
  if (splits.train.empty() || splits.test.empty()) {
    fail("data", "task '", task.name, "': ", splits.train.size(), " training and ", splits.test.size(),
         " test examples; the source has too few");
  }
  const bool generation = task.kind == config::TaskKind::Generation;
  const char* first = generation ? "input" : "text";
  const char* second = generation ? "output" : "label";
  auto write = [&](const std::vector<Pair>& pairs, const std::string& split) {
    if (pairs.empty()) return std::string();
    std::string lines;
    for (const auto& pair : pairs) {
      nlohmann::ordered_json line;
      line[first] = pair.first;
      line[second] = pair.second;
      lines += line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    const std::string path = task.name + "/" + split + ".jsonl";
    build.files[path] = lines;
    return path;
  };
  task.train = write(splits.train, "train");
  task.valid = write(splits.valid, "valid");
  task.test = write(splits.test, "test");
  PreparedTask count;
  count.name = task.name;
  count.kind = task.kind;
  count.metric = task.metric;
  count.train = static_cast<int64_t>(splits.train.size());
  count.valid = static_cast<int64_t>(splits.valid.size());
  count.test = static_cast<int64_t>(splits.test.size());
  count.classes = std::move(classes);
  build.tasks.push_back(std::move(task));
  build.counts.push_back(std::move(count));
}

void add_image_task(Build& build, config::TaskConfig task, const ImageExamples& train, const ImageExamples& test,
                    std::vector<std::string> classes) {
  if (train.size() == 0 || test.size() == 0) {
    fail("data", "task '", task.name, "': ", train.size(), " training and ", test.size(),
         " test images; the source has too few");
  }
  // Writes one split; returns the images file, the labels file beside it.
  auto write = [&](const ImageExamples& images, const std::string& split) {
    const std::string prefix = task.name + "/" + split;
    build.files[prefix + "-images.idx"] = idx_images_bytes(images);
    build.files[prefix + "-labels.idx"] = idx_labels_bytes(images.labels);
    return std::pair<std::string, std::string>{prefix + "-images.idx", prefix + "-labels.idx"};
  };
  std::tie(task.train, task.train_labels) = write(train, "train");
  std::tie(task.test, task.test_labels) = write(test, "test");
  PreparedTask count;
  count.name = task.name;
  count.kind = task.kind;
  count.metric = task.metric;
  count.train = train.size();
  count.test = test.size();
  count.classes = std::move(classes);
  build.tasks.push_back(std::move(task));
  build.counts.push_back(std::move(count));
}

config::TaskConfig generation_task(const std::string& name, const std::string& template_, const std::string& metric,
                                   int64_t max_new_tokens) {
  config::TaskConfig task;
  task.name = name;
  task.kind = config::TaskKind::Generation;
  task.template_ = template_;
  task.metric = metric;
  task.max_new_tokens = max_new_tokens;
  return task;
}

int64_t word_count(const std::string& text) {
  std::istringstream words(text);
  int64_t n = 0;
  for (std::string word; words >> word;) ++n;
  return n;
}

}  // namespace retain::data
