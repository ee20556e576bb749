// task-data.h - the examples of one task, read and checked in full before any training starts.
// Torch-free: the training loop tokenizes and batches these (train/batches.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/stream-config.h"

namespace retain::data {

// A text example, already rendered: the model sees `prompt` and learns / is scored on `target`.
//   generation:          prompt = template({input}), target = output
//   text-classification: prompt = template({text}),  target = label
//   text:                prompt = "",                target = one document (a paragraph or a chunk)
struct TextExample {
  std::string prompt;
  std::string target;
};

// Images as one contiguous uint8 block [count, rows, cols] (row-major, 0..255) with their labels.
struct ImageExamples {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

struct Split {
  std::vector<TextExample> text;  // text kinds
  ImageExamples images;           // image-classification
  int64_t size() const { return text.empty() ? images.size() : static_cast<int64_t>(text.size()); }
};

struct TaskData {
  config::TaskConfig config;
  Split train, test, valid;
  std::vector<std::string> labels;  // text-classification: the distinct labels of train, sorted
};

// Reads one task: every JSONL line is checked ("[data] FILE:LINE: ..." on the first bad one), the
// training examples are shuffled with `seed` (std::mt19937_64, so the order is the same everywhere) and
// cut to max_train; test to max_test (first N in file order after the same seeded shuffle).
TaskData task_data_load(const config::TaskConfig& task, uint64_t seed);

// All tasks of a stream, in order; nothing is trained before every file has been read and checked.
std::vector<TaskData> stream_data_load(const config::StreamConfig& stream);

}  // namespace retain::data
