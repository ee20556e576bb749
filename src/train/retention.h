// retention.h - [retention]: how much of its pretraining task a model still supports. Before the
// first task, the class means of the pretraining task's training images under the starting model
// are computed and kept in RUN/retention.safetensors, so a resumed run scores against the same ones;
// the task's test images are scored by the nearest of those means before the stream and after it
// (matrix.json `retention`).
#pragma once

#include <memory>
#include <string>

#include "config/stream-config.h"
#include "data/task-data.h"
#include "eval/run-result.h"
#include "model/model.h"
#include "train/evaluator.h"
#include "train/progress.h"
#include "train/prototype-head.h"

namespace retain::train {

class Retention {
 public:
  // Checks [retention] against `model` and reads its images; null when the stream has none.
  static std::unique_ptr<Retention> create(const config::StreamConfig& config, model::Model& model,
                                           const std::string& run_dir, torch::Device device);

  // Before the first task: the class means under the current model, kept in the run folder (when
  // `writes`), and the score before (result.retention_before).
  void measure_before(Evaluator& evaluator, bool writes, eval::RunResult& result, Progress& progress);
  // On resume: the class means the run kept.
  void resume();
  // After the last task: result.retention_after.
  void measure_after(Evaluator& evaluator, eval::RunResult& result, Progress& progress);

 private:
  Retention(data::TaskData task, model::Model& model, std::string file, torch::Device device, int64_t batch_size);
  double score(Evaluator& evaluator);

  data::TaskData task_;
  model::Model& model_;
  std::string file_;
  torch::Device device_;
  int64_t batch_size_;
  PrototypeHead means_;
};

}  // namespace retain::train
