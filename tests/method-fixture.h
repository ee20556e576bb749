// method-fixture.h - what the method tests share: a fixture model with its golden batch as the
// training data of a few tasks, driven step by step as the training loop drives a method.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/options.h"
#include "data/task-data.h"
#include "method/method.h"
#include "model/checkpoint.h"
#include "model/golden.h"
#include "optim/adamw.h"
#include "test-support.h"
#include "train/step.h"

namespace retain::test {

// One fixture model, its golden batch, and task contexts whose "training data" is that batch.
struct FixtureRun {
  std::shared_ptr<model::Model> model;
  model::Batch batch;
  std::vector<data::TaskData> tasks;

  explicit FixtureRun(const std::string& fixture) {
    model = model::model_load(test::fixture_path(fixture));
    batch = model::golden_batch(test::fixture_path(fixture));
    tasks.resize(3);
    for (size_t t = 0; t < tasks.size(); ++t) tasks[t].config.name = "task" + std::to_string(t);
  }

  method::TaskContext context(int64_t index) {
    method::TaskContext context;
    context.index = index;
    context.count = static_cast<int64_t>(tasks.size());
    context.seed = 7;
    context.name = tasks[index].config.name;
    context.steps = 4;
    context.lr = 1e-2;  // the rate most method tests train at
    context.for_each_batch = [this](const std::function<void(const model::Batch&)>& visit, int64_t /*limit*/) {
      visit(batch);
    };
    return context;
  }

  // `steps` optimizer steps as the training loop takes them.
  void train(method::Method& method, int steps, double lr, double weight_decay) {
    optim::AdamW optimizer(method.trainable(*model, weight_decay), {});
    model->train();
    for (int i = 0; i < steps; ++i)
      train::train_step(
          *model, method, optimizer, [&](int64_t) { return batch; }, 1, lr, 1.0);
  }

  std::map<std::string, torch::Tensor> weights() {
    std::map<std::string, torch::Tensor> copies;
    for (auto& [name, layer] : model->linear_layers()) copies[name] = layer->weight_out_in().detach().clone();
    return copies;
  }
};

// `batch` with `extra` padding positions appended to every text sequence (attention mask 0, labels
// -100; the ids repeat each row's first token): what a longer example does to the shorter ones of
// its batch. Real positions keep their values, as the models mask padding out of attention.
inline model::Batch with_padding(const model::Batch& batch, int64_t extra) {
  auto padded = batch;
  const auto rows = batch.input_ids.size(0);
  auto append = [&](const torch::Tensor& t, int64_t value) {
    return torch::cat({t, torch::full({rows, extra}, value, t.options())}, 1);
  };
  padded.input_ids = torch::cat({batch.input_ids, batch.input_ids.narrow(1, 0, 1).expand({rows, extra})}, 1);
  padded.attention_mask =
      append(batch.attention_mask.defined() ? batch.attention_mask : torch::ones_like(batch.input_ids), 0);
  if (batch.labels.defined() && batch.labels.dim() == 2) padded.labels = append(batch.labels, -100);
  return padded;
}

inline config::Options options_of(std::map<std::string, config::OptionValue> values) {
  config::Options options("test", "method");
  for (auto& [key, value] : values) options.set(key, value);
  return options;
}

}  // namespace retain::test
