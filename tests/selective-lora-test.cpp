// Selective LoRA's defining properties on every model fixture: closed gates leave the outputs
// bit-identical to the backbone (training and inference), the straight-through gradient of a
// score matches a hand computation, the sparsity term closes gates and the closed set survives a
// save and load; one gate per transformer block shares a score over the block's matrices.
#include <gtest/gtest.h>

#include <set>

#include "method-fixture.h"
#include "method/selective-lora.h"
#include "nn/linear.h"

namespace {

using namespace retain;
using test::FixtureRun;
using test::options_of;

class SelectiveLoraOnFixture : public ::testing::TestWithParam<std::string> {};

torch::Tensor logits_of(model::Model& model, const model::Batch& batch) {
  return model.forward(batch).logits.detach().clone();
}

void set_scores(method::SelectiveLora& method, double value) {
  torch::NoGradGuard no_grad;
  for (const auto& [gate, score] : method.scores()) score.fill_(value);
}

// Every B made non-zero, so that an open gate changes the outputs; then all gates closed.
TEST_P(SelectiveLoraOnFixture, ClosedGatesLeaveOutputsBitIdentical) {
  FixtureRun setup(GetParam());
  const auto base = logits_of(*setup.model, setup.batch);
  auto options = options_of({{"rank", int64_t{2}}});
  auto created = method::selective_lora_create(options);
  auto& method = dynamic_cast<method::SelectiveLora&>(*created);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  {
    torch::NoGradGuard no_grad;
    for (auto [name, layer] : method.layers()) layer->adapter_find("task0")->B.normal_(0, 0.5);
  }
  ASSERT_FALSE(method.scores().empty());
  EXPECT_FALSE(torch::equal(logits_of(*setup.model, setup.batch), base)) << "open gates must change the outputs";
  set_scores(method, 0.05);
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(logits_of(*setup.model, setup.batch), base));
  }
  // With gradients on, the closed blocks still run (their scores learn) and add exactly nothing.
  auto out = setup.model->forward(setup.batch).logits;
  EXPECT_TRUE(torch::equal(out.detach(), base));
  out.sum().backward();
  for (const auto& [gate, score] : method.scores()) {
    ASSERT_TRUE(score.grad().defined()) << gate;
  }
  for (auto [name, layer] : method.layers()) {
    const auto& B = layer->adapter_find("task0")->B;
    if (B.grad().defined()) {
      EXPECT_EQ(B.grad().abs().max().item<double>(), 0.0) << name;
    }
  }
}

// A strong sparsity term closes gates; after the task the closed blocks are off for good, the
// fraction reported matches, and a fresh method loading the state reproduces the outputs.
TEST_P(SelectiveLoraOnFixture, SparsityClosesGatesAndTheStateKeepsThem) {
  FixtureRun setup(GetParam());
  auto options = options_of({{"rank", int64_t{2}}, {"sparsity", 500.0}, {"warmup_ratio", 0.25}});
  auto created = method::selective_lora_create(options);
  auto& method = dynamic_cast<method::SelectiveLora&>(*created);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  const auto gates = method.scores().size();
  setup.train(method, 12, 1e-2, 0.0);
  int64_t open = 0;
  for (const auto& [gate, score] : method.scores()) open += score.item<double>() >= 0.1 ? 1 : 0;
  method.end_task(*setup.model, setup.context(0));
  ASSERT_EQ(method.active_fractions().size(), 1u);
  EXPECT_DOUBLE_EQ(method.active_fractions()[0], static_cast<double>(open) / static_cast<double>(gates));
  EXPECT_LT(method.active_fractions()[0], 1.0) << "12 steps of λ = 500 must close a gate";
  for (auto [name, layer] : method.layers()) EXPECT_FALSE(layer->adapter_find("task0")->score.defined()) << name;
  const auto after = logits_of(*setup.model, setup.batch);
  const auto state = method.state();

  FixtureRun fresh(GetParam());
  auto options2 = options_of({{"rank", int64_t{2}}});
  auto again = method::selective_lora_create(options2);
  // The model's own weights (an image head trains beside the adapters) as a checkpoint holds them.
  model::model_load_state(*fresh.model, model::model_state(*setup.model), "trained model");
  again->attach(*fresh.model);
  again->load_state(state);
  EXPECT_TRUE(torch::equal(logits_of(*fresh.model, fresh.batch), after));
}

// By default the sparsity term waits for TAPS' 2 of 30 epochs: over a 30-step task there is no
// penalty on steps 0 and 1, and λ·mean|s| from step 2 on.
TEST(SelectiveLora, SparsityStartsAfterTapsWarmup) {
  FixtureRun setup("llama");
  auto options = options_of({{"rank", int64_t{2}}});
  auto created = method::selective_lora_create(options);
  auto& method = dynamic_cast<method::SelectiveLora&>(*created);
  method.attach(*setup.model);
  auto context = setup.context(0);
  context.steps = 30;
  method.begin_task(*setup.model, context);
  for (int step = 0; step < 4; ++step) {
    EXPECT_EQ(method.penalty(*setup.model, setup.batch, {}).defined(), step >= 2) << "step " << step;
    method.after_step(*setup.model);
  }
}

// Optimizer steps until every gate has closed (at most `limit`), training on the fixture batch.
int64_t steps_to_close(const std::string& fixture, double sparsity, const std::string& score_optimizer, int64_t limit) {
  FixtureRun setup(fixture);
  auto options = options_of(
      {{"rank", int64_t{2}}, {"sparsity", sparsity}, {"score_optimizer", score_optimizer}, {"score_lr", 5e-5}});
  auto created = method::selective_lora_create(options);
  auto& method = dynamic_cast<method::SelectiveLora&>(*created);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  optim::AdamW optimizer(method.trainable(*setup.model, 0.0), {});
  setup.model->train();
  for (int64_t step = 1; step <= limit; ++step) {
    train::train_step(
        *setup.model, method, optimizer, [&](int64_t) { return setup.batch; }, 1, 1e-2, 0.0);
    bool open = false;
    for (const auto& [gate, score] : method.scores()) open = open || score.item<double>() >= 0.1;
    if (!open) return step;
  }
  return limit + 1;
}

// Under SGD (TAPS) a score's step is proportional to its gradient, so with the sparsity term
// dominating, doubling λ halves the steps a gate takes to close. Under AdamW the normalised step
// is about the LR whatever λ is, so λ barely matters (the control).
TEST_P(SelectiveLoraOnFixture, UnderSgdLambdaSetsHowFastGatesClose) {
  const int64_t slow = steps_to_close(GetParam(), 100, "sgd", 400);
  const int64_t fast = steps_to_close(GetParam(), 400, "sgd", 400);
  std::printf("steps to close every gate under SGD: lambda 100: %lld, lambda 400: %lld\n", static_cast<long long>(slow),
              static_cast<long long>(fast));
  ASSERT_LE(slow, 400);
  EXPECT_GE(slow, 8);  // resolved finely enough to see the ratio
  EXPECT_NEAR(static_cast<double>(slow) / static_cast<double>(fast), 4.0, 1.0);
  const int64_t adam_slow = steps_to_close(GetParam(), 100, "adamw", 400);
  const int64_t adam_fast = steps_to_close(GetParam(), 400, "adamw", 400);
  EXPECT_LT(static_cast<double>(adam_slow) / static_cast<double>(adam_fast), 2.0);
}

// One score per numbered block, shared by every target matrix inside it.
TEST_P(SelectiveLoraOnFixture, BlockGatesShareOneScorePerBlock) {
  FixtureRun setup(GetParam());
  // Every kind of linear layer inside the numbered blocks, so each block has several.
  std::set<std::string> leaves;
  for (auto& [name, layer] : setup.model->linear_layers()) {
    if (name.find_first_of("0123456789") != std::string::npos) leaves.insert(method::module_leaf(name));
  }
  std::string targets;
  for (const auto& leaf : leaves) targets += (targets.empty() ? "" : ",") + leaf;
  auto options = options_of({{"rank", int64_t{1}}, {"granularity", std::string("block")}, {"targets", targets}});
  auto created = method::selective_lora_create(options);
  auto& method = dynamic_cast<method::SelectiveLora&>(*created);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  std::map<std::string, int64_t> members;
  for (auto [name, layer] : method.layers()) {
    const auto gate = method.gate_of(name);
    EXPECT_LT(gate.size(), name.size()) << name << " should sit inside a numbered block";
    members[gate] += 1;
    EXPECT_TRUE(layer->adapter_find("task0")->score.is_same(method.scores().at(gate))) << name;
  }
  EXPECT_EQ(members.size(), method.scores().size());
  EXPECT_LT(members.size(), method.layers().size()) << "each block has several target matrices";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SelectiveLoraOnFixture, ::testing::ValuesIn(test::model_fixtures()),
                         test::param_name<::testing::TestParamInfo<std::string>>);

// dL/ds = scale·Σ w ⊙ (x·Aᵀ·Bᵀ) for L = Σ w ⊙ y, whether the gate is open or closed; the closed gate's
// output is the base output exactly and B gets no gradient.
TEST(SelectiveLoraGate, StraightThroughGradientMatchesAHandComputation) {
  torch::manual_seed(3);
  nn::Linear layer(nn::LinearOptions{5, 4, true}, torch::TensorOptions(torch::kFloat));
  {
    torch::NoGradGuard no_grad;
    layer->weight.normal_();
    layer->bias.normal_();
  }
  const auto x = torch::randn({3, 5});
  const auto w = torch::randn({3, 4});
  const auto base = layer->forward(x).detach().clone();
  for (double s0 : {0.15, 0.05}) {
    auto A = torch::randn({2, 5}), B = torch::randn({4, 2}).requires_grad_();
    auto& adapter = layer->adapter_add("gated", A, B, 2.0);
    adapter.score = torch::full({}, s0).requires_grad_();
    adapter.threshold = 0.1;
    auto y = layer->forward(x);
    (y * w).sum().backward();
    const double expected = (w * torch::matmul(torch::matmul(x, A.t()), B.detach().t()) * 2.0).sum().item<double>();
    EXPECT_NEAR(adapter.score.grad().item<double>(), expected, 1e-5 * std::max(1.0, std::abs(expected))) << s0;
    if (s0 < 0.1) {
      EXPECT_TRUE(torch::equal(y.detach(), base));
      EXPECT_EQ(B.grad().abs().max().item<double>(), 0.0);
    } else {
      EXPECT_GT((y.detach() - base).abs().max().item<double>(), 1e-3);
    }
    layer->adapter_remove("gated");
  }
}

}  // namespace
