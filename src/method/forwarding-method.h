// forwarding-method.h - the base of a method that runs on top of another (MIGU on seqft or on a
// LoRA method): every hook of method.h goes to the inner method, so a wrapper overrides only what it
// adds and a hook added to Method later cannot be forgotten here without the compiler noticing
// (each override below is marked `override`, and Method has no hook this class does not forward).
#pragma once

#include <memory>
#include <utility>

#include "method/method.h"

namespace retain::method {

class ForwardingMethod : public Method {
 public:
  explicit ForwardingMethod(std::unique_ptr<Method> inner) : inner_(std::move(inner)) {}

  std::string name() const override { return inner_->name(); }
  void attach(model::Model& model) override { inner_->attach(model); }
  void use_prototype_head(PrototypeSource prototypes) override { inner_->use_prototype_head(std::move(prototypes)); }
  void begin_task(model::Model& model, const TaskContext& task) override { inner_->begin_task(model, task); }
  std::vector<ParamGroup> trainable(model::Model& model, double weight_decay) override {
    return inner_->trainable(model, weight_decay);
  }
  torch::Tensor penalty(model::Model& model, const model::Batch& batch, const model::Output& out) override {
    return inner_->penalty(model, batch, out);
  }
  std::vector<torch::Tensor> step_statistics() override { return inner_->step_statistics(); }
  void after_backward(model::Model& model) override { inner_->after_backward(model); }
  void before_step(model::Model& model) override { inner_->before_step(model); }
  void after_step(model::Model& model) override { inner_->after_step(model); }
  void end_task(model::Model& model, const TaskContext& task) override { inner_->end_task(model, task); }
  std::vector<ExampleRef> training_examples(int64_t index, const std::vector<int64_t>& train_sizes) override {
    return inner_->training_examples(index, train_sizes);
  }
  bool trains_jointly() const override { return inner_->trains_jointly(); }
  bool trains_adapters() const override { return inner_->trains_adapters(); }
  MethodState state() const override { return inner_->state(); }
  void load_state(const MethodState& state) override { inner_->load_state(state); }

 protected:
  Method& inner() { return *inner_; }
  const Method& inner() const { return *inner_; }

 private:
  std::unique_ptr<Method> inner_;
};

}  // namespace retain::method
