// retention.cpp - see retention.h.
#include "train/retention.h"

#include <filesystem>

#include "error.h"
#include "io/safetensors.h"
#include "train/batches.h"

namespace retain::train {

namespace fs = std::filesystem;

std::unique_ptr<Retention> Retention::create(const config::StreamConfig& config, model::Model& model,
                                             const std::string& run_dir, torch::Device device) {
  if (!config.retention) return nullptr;
  if (model.kind() != model::ModelKind::ImageClassifier) {
    fail("config", config.source, ": [retention] scores an image classifier's features; this model is not one");
  }
  const auto labels = model.linear_layer(model.head_layer())->options().out_features;
  for (int64_t label : config.retention->classes) {
    if (label >= labels)
      fail("config", config.source, ": [retention] classes: label ", label, " is past the model's ", labels, " labels");
  }
  return std::unique_ptr<Retention>(new Retention(data::task_data_load(*config.retention, config.run.seed), model,
                                                  (fs::path(run_dir) / "retention.safetensors").string(), device,
                                                  config.eval.batch_size));
}

Retention::Retention(data::TaskData task, model::Model& model, std::string file, torch::Device device,
                     int64_t batch_size)
    : task_(std::move(task)), model_(model), file_(std::move(file)), device_(device), batch_size_(batch_size) {}

void Retention::measure_before(Evaluator& evaluator, bool writes, eval::RunResult& result, Progress& progress) {
  means_.add_classes(model_, [&](const std::function<void(const model::Batch&)>& visit, int64_t) {
    const auto& images = task_.train.images;
    for (int64_t begin = 0; begin < images.size(); begin += batch_size_) {
      std::vector<ImageRef> items;
      for (int64_t i = begin; i < std::min(images.size(), begin + batch_size_); ++i) items.push_back({&images, i});
      auto batch =
          image_batch(items, model_.config().get_int("num_channels", 3), model_.config().get_int("image_size"));
      batch.pixel_values = batch.pixel_values.to(device_);
      visit(batch);
    }
  });
  if (writes) io::safetensors_save(file_, means_.state(), {});
  result.retention_before = score(evaluator);
  progress.event("retention", {{"task", task_.config.name}, {"before", *result.retention_before}});
}

void Retention::resume() {
  if (!fs::exists(file_)) fail("run", file_, ": missing; the [retention] class means of the run are gone");
  means_.load_state(io::safetensors_load(file_).tensors);
}

void Retention::measure_after(Evaluator& evaluator, eval::RunResult& result, Progress& progress) {
  result.retention_after = score(evaluator);
  progress.event("retention", {{"task", task_.config.name}, {"after", *result.retention_after}});
}

double Retention::score(Evaluator& evaluator) {
  const auto* head = evaluator.prototypes();
  evaluator.use_prototypes(&means_);
  const double score = evaluator.score(task_, task_.config.classes).score;
  evaluator.use_prototypes(head);
  return score;
}

}  // namespace retain::train
