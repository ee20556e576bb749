// task-data.cpp - reads a task's files by kind, renders prompts, shuffles with the seed and applies
// the caps; every file of every task is read and checked before anything trains.
#include "data/task-data.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>

#include "data/idx.h"
#include "data/jsonl.h"
#include "data/shuffle.h"
#include "data/text-file.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

// `text` with every occurrence of each placeholder replaced by `value`.
std::string render(std::string text, const std::vector<std::string>& placeholders, const std::string& value) {
  for (const auto& placeholder : placeholders) {
    for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

void check_template(const config::TaskConfig& task, const std::vector<std::string>& placeholders) {
  for (const auto& placeholder : placeholders) {
    if (task.template_.find(placeholder) != std::string::npos) return;
  }
  fail("data", "task '", task.name, "': the template has no ", placeholders.front(), " to put the example in");
}

// Shuffles with `seed` and keeps the first `cap` (0 = all).
void shuffle_and_cap(std::vector<TextExample>& examples, uint64_t seed, int64_t cap) {
  seeded_shuffle(examples, seed);
  if (cap > 0 && static_cast<int64_t>(examples.size()) > cap) examples.resize(static_cast<size_t>(cap));
}

std::vector<TextExample> load_generation(const config::TaskConfig& task, const std::string& path) {
  std::vector<TextExample> examples;
  for (auto& record : jsonl_read(path, {"input", "output"})) {
    examples.push_back({render(task.template_, {"{input}"}, record.values[0]), std::move(record.values[1])});
  }
  return examples;
}

// `labels` empty: the labels are collected into it; otherwise every label must be one of them.
std::vector<TextExample> load_classification(const config::TaskConfig& task, const std::string& path,
                                             std::vector<std::string>& labels) {
  const auto records = jsonl_read(path, {"text", "label"});
  if (labels.empty()) {
    std::set<std::string> distinct;
    for (const auto& record : records) distinct.insert(record.values[1]);
    labels.assign(distinct.begin(), distinct.end());
  }
  std::vector<TextExample> examples;
  for (const auto& record : records) {
    const std::string& label = record.values[1];
    if (!std::binary_search(labels.begin(), labels.end(), label)) {
      fail("data", path, ":", record.line, ": label \"", label, "\" does not occur in the training file ", task.train);
    }
    examples.push_back({render(task.template_, {"{text}", "{input}"}, record.values[0]), label});
  }
  return examples;
}

std::vector<TextExample> load_text(const std::string& path) {
  std::vector<TextExample> examples;
  for (auto& paragraph : text_paragraphs(io::file_read(path, "data"), path))
    examples.push_back({"", std::move(paragraph)});
  if (examples.empty()) fail("data", path, ": no text (the file is empty or blank)");
  return examples;
}

// IDX files already read, by (images, labels) path: the tasks of a split-image stream share the files.
using ImageCache = std::map<std::pair<std::string, std::string>, ImageExamples>;

// The examples whose label is in `classes` (all when empty), shuffled with `seed`, the first `cap` kept.
ImageExamples load_images(const config::TaskConfig& task, const std::string& images_path,
                          const std::string& labels_path, uint64_t seed, int64_t cap, ImageCache& cache) {
  auto cached = cache.find({images_path, labels_path});
  if (cached == cache.end()) {
    cached = cache.emplace(std::make_pair(images_path, labels_path), idx_load(images_path, labels_path)).first;
  }
  const ImageExamples& all = cached->second;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < all.size(); ++i) {
    if (task.classes.empty() || std::count(task.classes.begin(), task.classes.end(), all.labels[i]) > 0) {
      keep.push_back(i);
    }
  }
  for (int64_t label : task.classes) {
    if (std::count(all.labels.begin(), all.labels.end(), label) == 0) {
      fail("data", labels_path, ": class ", label, " of task '", task.name, "' has no examples");
    }
  }
  seeded_shuffle(keep, seed);
  if (cap > 0 && static_cast<int64_t>(keep.size()) > cap) keep.resize(static_cast<size_t>(cap));
  ImageExamples images;
  images.rows = all.rows;
  images.cols = all.cols;
  const size_t pixels = static_cast<size_t>(all.rows * all.cols);
  images.pixels.resize(keep.size() * pixels);
  for (size_t k = 0; k < keep.size(); ++k) {
    const auto from = all.pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(keep[k]) * pixels);
    std::copy(from, from + static_cast<std::ptrdiff_t>(pixels),
              images.pixels.begin() + static_cast<std::ptrdiff_t>(k * pixels));
    images.labels.push_back(all.labels[static_cast<size_t>(keep[k])]);
  }
  return images;
}

void require(const config::TaskConfig& task, const std::string& value, const char* key) {
  if (value.empty()) fail("data", "task '", task.name, "' (", config::word_of(task.kind), "): `", key, "` is required");
}

TaskData load_task(const config::TaskConfig& task, uint64_t seed, ImageCache& cache) {
  TaskData data;
  data.config = task;
  require(task, task.train, "train");
  if (task.kind == config::TaskKind::Generation || task.kind == config::TaskKind::TextClassification) {
    require(task, task.test, "test");
    const bool generation = task.kind == config::TaskKind::Generation;
    check_template(task,
                   generation ? std::vector<std::string>{"{input}"} : std::vector<std::string>{"{text}", "{input}"});
    auto load = [&](const std::string& path) {
      return generation ? load_generation(task, path) : load_classification(task, path, data.labels);
    };
    data.train.text = load(task.train);
    data.test.text = load(task.test);
    if (!task.valid.empty()) data.valid.text = load(task.valid);
    shuffle_and_cap(data.train.text, seed, task.max_train);
    shuffle_and_cap(data.test.text, seed, task.max_test);
  } else if (task.kind == config::TaskKind::Text) {
    data.train.text = load_text(task.train);
    if (!task.test.empty()) data.test.text = load_text(task.test);
    if (!task.valid.empty()) data.valid.text = load_text(task.valid);
    shuffle_and_cap(data.train.text, seed, task.max_train);
    shuffle_and_cap(data.test.text, seed, task.max_test);
  } else {  // image-classification
    require(task, task.test, "test");
    require(task, task.train_labels, "train_labels");
    require(task, task.test_labels, "test_labels");
    if (!task.valid.empty()) {
      fail("data", "task '", task.name,
           "': image-classification has no `valid` split (IDX files carry no held-out part)");
    }
    data.train.images = load_images(task, task.train, task.train_labels, seed, task.max_train, cache);
    data.test.images = load_images(task, task.test, task.test_labels, seed, task.max_test, cache);
  }
  return data;
}

}  // namespace

TaskData task_data_load(const config::TaskConfig& task, uint64_t seed) {
  ImageCache cache;
  return load_task(task, seed, cache);
}

std::vector<TaskData> stream_data_load(const config::StreamConfig& stream) {
  ImageCache cache;
  std::vector<TaskData> tasks;
  for (const auto& task : stream.tasks) tasks.push_back(load_task(task, stream.run.seed, cache));
  if (stream.eval.split ==
      config::EvalSplit::Valid) {  // learning-rate tuning scores the held-out split, never the test set
    for (auto& task : tasks) {
      if (task.valid.text.empty()) {
        fail("data", stream.source, ": [eval] split = \"valid\", but task '", task.config.name,
             "' has no `valid` examples");
      }
      task.test = task.valid;
      shuffle_and_cap(task.test.text, stream.run.seed, task.config.max_test);
    }
  }
  return tasks;
}

}  // namespace retain::data
