// method.h - the one interface every continual-learning method implements (docs/design.md §3).
// The training loop (train/trainer.cpp) calls the hooks in this order for every task:
//   begin_task → [ forward → loss + penalty → backward → after_backward → clip → before_step → step
//                → after_step ]* → end_task
// A method sees the model only through its named parameters and named nn::Linear layers.
// Everything a resume needs is in state(); the loop saves it in every checkpoint.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/stream-config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "optim/param-group.h"

namespace retain::method {

// One training example of the stream: example `index` of task `task`'s training split.
struct ExampleRef {
  int64_t task = 0;
  int64_t index = 0;
};

using optim::ParamGroup;

// What a task boundary hands a method: the task and a way to run the model over its training data
// (Fisher information, input subspaces and activation statistics need one pass).
struct TaskContext {
  int64_t index = 0;   // 0-based position in the stream
  int64_t count = 0;   // tasks in the stream
  std::string name;    // the task's name (adapters are named after it)
  uint64_t seed = 0;   // the run's seed, for methods that draw new weights
  int64_t steps = 0;   // optimizer steps the task trains for
  int64_t epochs = 1;  // passes over its training data in those steps
  double lr = 0;       // [train] lr, the schedule's base: a group with its own rate gets lr_scale = rate / lr
  // Calls `visit` with every training batch of the task, in a fixed order (max `limit` batches; 0 = all).
  std::function<void(const std::function<void(const model::Batch&)>& visit, int64_t limit)> for_each_batch;
};

// A prototype head's stored class prototypes, unit length [classes, hidden] (undefined before any).
using PrototypeSource = std::function<torch::Tensor()>;

struct MethodState {
  io::TensorMap tensors;  // saved as safetensors
  nlohmann::json meta = nlohmann::json::object();
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;

  // Once, before the first task (and again on resume, before load_state).
  virtual void attach(model::Model& /*model*/) {}
  // Once after attach, only when the run predicts with a prototype head ([train] head = "prototype"):
  // where the prototypes of the classes learnt so far can be read. Only LoRA⁻ (its triplet loss) asks.
  virtual void use_prototype_head(PrototypeSource /*prototypes*/) {}
  virtual void begin_task(model::Model& /*model*/, const TaskContext& /*task*/) {}
  // The parameters the optimizer updates. Default: every parameter of the model that requires a
  // gradient (a method freezes one in attach), weight decay on matrices only (not on biases and norm
  // weights, as transformers' Trainer does).
  virtual std::vector<ParamGroup> trainable(model::Model& model, double weight_decay);
  // Extra loss terms added to the task loss; undefined = none.
  virtual torch::Tensor penalty(model::Model& /*model*/, const model::Batch& /*batch*/, const model::Output& /*out*/) {
    return {};
  }
  // Statistics of the step's forward passes that after_backward reads (MIGU's |activation| sums).
  // With data-parallel ranks, the step sums them over the ranks in place before after_backward, so
  // every rank sees the statistics of the whole global batch.
  virtual std::vector<torch::Tensor> step_statistics() { return {}; }
  // Gradient edits that the global-norm clip must see (MIGU's masks) go in after_backward; those it
  // must not see (OSFT's projection, which mini_trainer applies after clipping) in before_step.
  virtual void after_backward(model::Model& /*model*/) {}
  virtual void before_step(model::Model& /*model*/) {}
  virtual void after_step(model::Model& /*model*/) {}
  virtual void end_task(model::Model& /*model*/, const TaskContext& /*task*/) {}

  // The examples trained on for task `index`, given every task's number of training examples
  // (experience replay mixes earlier tasks in). Default: all of task `index`'s.
  virtual std::vector<ExampleRef> training_examples(int64_t index, const std::vector<int64_t>& train_sizes);
  // Joint multi-task training: one stage over every task at once, evaluated once at the end.
  virtual bool trains_jointly() const { return false; }
  // Trains LoRA adapters on a frozen base (so [model] save = "adapters" has something to save).
  virtual bool trains_adapters() const { return false; }
  // One AdamW for the whole stream: its moments and step counts carry over task boundaries (for the
  // parameters that train in both tasks) instead of starting afresh with every task.
  virtual bool keeps_optimizer() const { return false; }

  virtual MethodState state() const { return {}; }
  virtual void load_state(const MethodState& /*state*/) {}
};

// "model.layers.0.self_attn.q_proj" -> "q_proj": how methods name the layers they target.
std::string module_leaf(const std::string& module_name);
// The model's linear layers whose leaf name is one of `leaves`, in module order.
std::vector<std::pair<std::string, nn::Linear>> linear_layers_matching(model::Model& model,
                                                                       const std::vector<std::string>& leaves);

// The method named by [method].name with its options (each reads and checks its own keys).
std::unique_ptr<Method> method_create(config::MethodConfig& config);
// The method `name` with `options`; the options it does not read are an error.
std::unique_ptr<Method> method_create(const std::string& name, config::Options& options);
std::vector<std::string> method_names();

}  // namespace retain::method
