// The continual-learning methods' defining properties, with real numbers on every model fixture:
// OSFT keeps every update out of the frozen subspace (also through AdamW's moments and weight
// decay), MIGU changes exactly the rows it keeps and leaves the others bit-identical, O-LoRA's
// penalty and gradient match a hand computation, InfLoRA's new A lies outside the stored subspace,
// and EWC's Fisher matches a per-example finite sum.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "compat.h"
#include "data/task-data.h"
#include "method-fixture.h"
#include "method/ewc.h"
#include "method/inflora.h"
#include "method/lora-family.h"
#include "method/migu.h"
#include "method/o-lora.h"
#include "method/osft.h"
#include "model/checkpoint.h"
#include "model/golden.h"
#include "nn/token-mask.h"
#include "optim/adamw.h"
#include "test-support.h"
#include "train/step.h"

namespace {

using namespace retain;
using test::FixtureRun;
using test::options_of;
const auto test_name = test::param_name<::testing::TestParamInfo<std::string>>;

double frobenius(const torch::Tensor& t) { return t.norm().item<double>(); }

// The top-k left and right singular vectors of w, by LAPACK's SVD in float64: the test's own
// reference for the subspace OSFT freezes.
std::pair<torch::Tensor, torch::Tensor> top_singular_vectors(const torch::Tensor& w, int64_t k) {
  auto [U, s, Vh] = torch::linalg_svd(w.to(torch::kDouble), false, {});
  return {U.narrow(1, 0, k).to(torch::kFloat), Vh.narrow(0, 0, k).t().to(torch::kFloat)};
}

// ---- OSFT ----------------------------------------------------------------------------------------

class MethodsOnFixture : public ::testing::TestWithParam<std::string> {};

// After a task the change of every target weight has, relative to its size, a component below 1e-5
// in span(U_h) (columns) and in span(V_h) (rows), with AdamW and weight decay, in either form (the
// dense weight, or the factors merged back at the task's end). Without the re-projection after the
// optimizer step (gradients projected only) it leaks: the controls. Ratio 0.5 keeps the frozen
// directions on both sides, 0.25 their complement on the short side (and on both for a square
// matrix), so both ways of projecting are checked against the test's own SVD.
TEST_P(MethodsOnFixture, OsftUpdatesStayOutOfTheFrozenSubspace) {
  struct Case {
    bool reproject;
    double ratio;
    std::string form;
  };
  for (const auto& [reproject, ratio, form] : std::vector<Case>{{true, 0.5, "dense"},
                                                                {true, 0.25, "dense"},
                                                                {false, 0.5, "dense"},
                                                                {true, 0.5, "factors"},
                                                                {true, 0.25, "factors"},
                                                                {false, 0.5, "factors"}}) {
    SCOPED_TRACE(std::string(reproject ? "projected gradients and parameters" : "control: gradients only") +
                 ", unfreeze_rank_ratio " + std::to_string(ratio) + ", form " + form);
    FixtureRun setup(GetParam());
    auto options = options_of({{"unfreeze_rank_ratio", ratio}, {"form", form}});
    auto osft = method::osft_create(options);
    auto& method = dynamic_cast<method::Osft&>(*osft);
    method.attach(*setup.model);
    method.begin_task(*setup.model, setup.context(0));
    const auto frozen = method.frozen();
    const auto before = setup.weights();
    if (reproject) {
      setup.train(method, 8, 1e-2, 0.1);
    } else {
      struct GradientsOnly : method::Method {
        method::Osft& osft;
        explicit GradientsOnly(method::Osft& o) : osft(o) {}
        std::string name() const override { return "control"; }
        std::vector<method::ParamGroup> trainable(model::Model& m, double decay) override {
          return osft.trainable(m, decay);
        }
        void before_step(model::Model& m) override { osft.before_step(m); }
      } control(method);
      setup.train(control, 8, 1e-2, 0.1);
    }
    method.end_task(*setup.model, setup.context(0));
    ASSERT_FALSE(frozen.empty());
    double worst = 0;
    for (const auto& [name, f] : frozen) {
      const auto delta = setup.model->linear_layer(name)->weight_out_in().detach() - before.at(name);
      ASSERT_GT(frobenius(delta), 0) << name << " did not train";
      const auto [U, V] = top_singular_vectors(before.at(name), f.s.size(0));
      const double columns = frobenius(torch::matmul(U.t(), delta)) / frobenius(delta);
      const double rows = frobenius(torch::matmul(delta, V)) / frobenius(delta);
      worst = std::max({worst, columns, rows});
    }
    if (reproject) {
      EXPECT_LT(worst, 1e-5);
    } else {
      EXPECT_GT(worst, 1e-3);
    }
  }
}

// The factor form at a task's start: each target's weight becomes F₀ and its low singular triplets
// (the test's own SVD) an adapter, so the model computes what it did; only the factors train, and
// at the task's end they are merged back (no adapter left, the weights moved). The same training
// moves the weights differently from the dense form: the two are different optimisation problems.
TEST_P(MethodsOnFixture, OsftFactorFormTrainsTheLowTripletsAndMergesThem) {
  std::map<std::string, std::map<std::string, torch::Tensor>> trained;  // form -> weights after the task
  std::map<std::string, torch::Tensor> start;
  for (const std::string form : {"factors", "dense"}) {
    SCOPED_TRACE("form " + form);
    FixtureRun setup(GetParam());
    auto options = options_of({{"unfreeze_rank_ratio", 0.5}, {"form", form}, {"others", std::string("frozen")}});
    auto osft = method::osft_create(options);
    auto& method = dynamic_cast<method::Osft&>(*osft);
    method.attach(*setup.model);
    const auto before = setup.weights();
    torch::Tensor logits_before;
    {
      torch::NoGradGuard no_grad;
      setup.model->eval();
      logits_before = setup.model->forward(setup.batch).logits;
    }
    method.begin_task(*setup.model, setup.context(0));
    if (form == "factors") {
      torch::NoGradGuard no_grad;
      const auto logits = setup.model->forward(setup.batch).logits;
      EXPECT_LT(frobenius(logits - logits_before) / frobenius(logits_before), 1e-5);
      for (const auto& [name, f] : method.frozen()) {
        auto layer = setup.model->linear_layer(name);
        const auto* factors = layer->adapter_find(method::Osft::kFactors);
        ASSERT_NE(factors, nullptr) << name;
        const auto s = std::get<1>(torch::linalg_svd(before.at(name).to(torch::kDouble), false, {}));
        const auto k = f.s.size(0);
        EXPECT_TRUE(torch::allclose(factors->middle.to(torch::kDouble), s.narrow(0, k, s.size(0) - k), 1e-4, 1e-5))
            << name;
        EXPECT_FALSE(layer->weight.requires_grad()) << name;
        ASSERT_TRUE(factors->A.requires_grad() && factors->B.requires_grad() && factors->middle.requires_grad());
      }
    }
    setup.train(method, 4, 1e-2, 0.0);
    method.end_task(*setup.model, setup.context(0));
    trained[form] = setup.weights();
    start = before;
    for (auto& [name, layer] : setup.model->linear_layers()) {
      EXPECT_EQ(layer->adapter_find(method::Osft::kFactors), nullptr) << name;
    }
  }
  int64_t moved = 0, differ = 0;
  for (const auto& [name, w] : trained["factors"]) {
    moved += !torch::allclose(w, start.at(name), 0, 1e-6);
    differ += !torch::allclose(w, trained["dense"].at(name), 0, 1e-6);
  }
  EXPECT_GT(moved, 0);
  EXPECT_EQ(differ, moved);
}

// Settings that only the dense form has are refused with the factor form, by name.
TEST(Osft, FactorFormRefusesTheDenseOnlySettings) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"projection", "paper"}, {"svd", "randomized"}}) {
    auto options = options_of({{"form", std::string("factors")}, {key, value}});
    EXPECT_NE(test::error_of([&] { method::osft_create(options); }).find(key + " = \"" + value + "\" needs form"),
              std::string::npos)
        << key;
  }
}

// others = "frozen" (PEFT's OSF) trains exactly the target matrices: every other parameter stays
// bit-identical (an image classifier's head excepted); "train" (the default: the authors' code and
// mini_trainer) trains the others too, with plain AdamW.
TEST_P(MethodsOnFixture, OsftOthersFrozenTrainsOnlyTheTargets) {
  for (const std::string others : {"frozen", "train"}) {
    SCOPED_TRACE("others = " + others);
    FixtureRun setup(GetParam());
    auto options = options_of({{"unfreeze_rank_ratio", 0.5}, {"others", others}});
    auto osft = method::osft_create(options);
    auto& method = dynamic_cast<method::Osft&>(*osft);
    method.attach(*setup.model);
    method.begin_task(*setup.model, setup.context(0));
    std::map<std::string, torch::Tensor> before;
    for (const auto& item : setup.model->named_parameters()) before[item.key()] = item.value().detach().clone();
    setup.train(method, 2, 1e-2, 0.0);
    std::set<std::string> targets;
    for (const auto& [name, f] : method.frozen()) targets.insert(name + ".weight");
    const auto head = setup.model->head_layer() + ".";
    const bool image = setup.model->kind() == model::ModelKind::ImageClassifier;
    int64_t targets_moved = 0, others_moved = 0;
    for (const auto& item : setup.model->named_parameters()) {
      if (image && item.key().rfind(head, 0) == 0) continue;
      const bool moved = !torch::equal(item.value().detach(), before.at(item.key()));
      (targets.count(item.key()) != 0 ? targets_moved : others_moved) += moved;
    }
    EXPECT_EQ(targets_moved, static_cast<int64_t>(targets.size()));
    if (others == "frozen") {
      EXPECT_EQ(others_moved, 0);
    } else {
      EXPECT_GT(others_moved, 0);
    }
  }
}

// The paper's formula fixes only the high-high block: U_hᵀ ΔW V_h stays zero.
TEST_P(MethodsOnFixture, OsftPaperProjectionKeepsTheHighHighBlock) {
  FixtureRun setup(GetParam());
  auto options = options_of({{"unfreeze_rank_ratio", 0.5}, {"projection", std::string("paper")}});
  auto osft = method::osft_create(options);
  auto& method = dynamic_cast<method::Osft&>(*osft);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  const auto before = setup.weights();
  setup.train(method, 5, 1e-2, 0.1);
  for (const auto& [name, f] : method.frozen()) {
    const auto delta = setup.model->linear_layer(name)->weight_out_in().detach() - before.at(name);
    const auto [U, V] = top_singular_vectors(before.at(name), f.s.size(0));
    EXPECT_LT(frobenius(torch::matmul(torch::matmul(U.t(), delta), V)) / frobenius(delta), 1e-5) << name;
  }
}

// Adaptive ranks follow the importance rule's bounds, and the method state carries the factors.
TEST_P(MethodsOnFixture, OsftAdaptiveRanksAndStateRoundTrip) {
  FixtureRun setup(GetParam());
  auto options = options_of({{"rank", std::string("adaptive")}});
  auto osft = method::osft_create(options);
  auto& method = dynamic_cast<method::Osft&>(*osft);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  for (const auto& [name, k] : method.ranks()) {
    auto layer = setup.model->linear_layer(name);
    const auto R = std::min(layer->options().in_features, layer->options().out_features);
    EXPECT_GE(k, std::max<int64_t>(1, static_cast<int64_t>(std::floor(0.1 * R)))) << name;
    EXPECT_LE(k, std::min<int64_t>(R - 1, static_cast<int64_t>(std::floor(0.8 * R)))) << name;
    EXPECT_EQ(method.frozen().at(name).s.size(0), k);
  }
  auto copy_options = options_of({{"rank", std::string("adaptive")}});
  auto copy = method::osft_create(copy_options);
  copy->attach(*setup.model);
  copy->load_state(method.state());
  const auto& restored = dynamic_cast<method::Osft&>(*copy);
  EXPECT_EQ(restored.ranks(), method.ranks());
  for (const auto& [name, f] : method.frozen()) {
    const auto& copied = restored.frozen().at(name);
    EXPECT_TRUE(torch::equal(copied.left.basis, f.left.basis) && torch::equal(copied.right.basis, f.right.basis) &&
                torch::equal(copied.top, f.top) && copied.left.complement == f.left.complement &&
                copied.right.complement == f.right.complement)
        << name;
  }
}

// I(l) is the mean over real tokens of cos(x, W·x) (no bias), both cut to min(in, out) coordinates:
// checked by hand from each layer's inputs, and unchanged when the batch carries padding. T5 is left
// out of the hand check only (its cross-attention reads the encoder's tokens, not the batch's rows).
TEST_P(MethodsOnFixture, OsftImportanceIsTheCosineOfXAndWxOverRealTokens) {
  auto options = options_of({{"rank", std::string("adaptive")}});
  auto importance_of = [&](FixtureRun& setup) {
    // Biases of unit size (fixtures may ship them zero), so W·x + b and W·x differ.
    torch::manual_seed(3);
    torch::NoGradGuard no_grad;
    for (auto& [name, layer] : setup.model->linear_layers())
      if (layer->bias.defined()) layer->bias.normal_();
    auto osft = method::osft_create(options);
    auto& method = dynamic_cast<method::Osft&>(*osft);
    method.attach(*setup.model);
    return method.layer_importance(*setup.model, setup.context(0));
  };
  FixtureRun setup(GetParam());
  const auto importance = importance_of(setup);
  ASSERT_FALSE(importance.empty());
  if (setup.batch.input_ids.defined()) {
    FixtureRun padded(GetParam());
    padded.batch = test::with_padding(setup.batch, 5);
    const auto with_padding = importance_of(padded);
    for (const auto& [name, value] : importance) EXPECT_NEAR(with_padding.at(name), value, 1e-5) << name;
  }
  if (setup.model->config().model_type() == "t5") return;
  std::map<std::string, torch::Tensor> inputs;
  for (const auto& [name, value] : importance) {
    auto* input = &inputs[name];
    setup.model->linear_layer(name)->observer_set(
        [input](const torch::Tensor& x, const torch::Tensor& /*y*/) { *input = x.clone(); });
  }
  {
    torch::NoGradGuard no_grad;
    setup.model->forward(setup.batch);
  }
  for (const auto& [name, value] : importance) {
    auto layer = setup.model->linear_layer(name);
    layer->observer_clear();
    auto x = inputs.at(name).reshape({-1, layer->options().in_features}).to(torch::kFloat);
    if (setup.batch.attention_mask.defined()) x = x.index({setup.batch.attention_mask.reshape({-1}).ne(0)});
    auto wx = torch::matmul(x, layer->weight_out_in().to(torch::kFloat).t());
    const auto m = std::min(x.size(1), wx.size(1));
    const auto expected = torch::cosine_similarity(x.narrow(1, 0, m), wx.narrow(1, 0, m), 1, 1e-8).mean();
    EXPECT_NEAR(value, expected.item<double>(), 1e-5) << name;
  }
}

// ---- Statistics over real tokens -----------------------------------------------------------------

// Every linear layer's observer, reading real_token_rows, sees the same rows (count and values) with
// and without 5 padding positions per sequence: T5's encoder, decoder and cross-attention included.
TEST_P(MethodsOnFixture, ObserversSeeTheRealTokensOnly) {
  FixtureRun setup(GetParam());
  if (!setup.batch.input_ids.defined()) GTEST_SKIP() << "image batches have no padding";
  auto observe = [&](const model::Batch& batch) {
    std::map<std::string, std::pair<int64_t, torch::Tensor>> seen;  // rows, column sums
    auto layers = setup.model->linear_layers();
    for (auto& [name, layer] : layers) {
      auto* slot = &seen[name];
      layer->observer_set([slot](const torch::Tensor& x, const torch::Tensor& /*y*/) {
        auto rows = nn::real_token_rows(x).to(torch::kDouble);
        slot->first += rows.size(0);
        slot->second = slot->second.defined() ? slot->second + rows.sum(0) : rows.sum(0);
      });
    }
    {
      torch::NoGradGuard no_grad;
      setup.model->forward(batch);
    }
    for (auto& [name, layer] : layers) layer->observer_clear();
    return seen;
  };
  const auto plain = observe(setup.batch);
  const auto padded = observe(test::with_padding(setup.batch, 5));
  for (const auto& [name, slot] : plain) {
    EXPECT_EQ(padded.at(name).first, slot.first) << name;
    const auto scale = slot.second.abs().max().item<double>() + 1e-6;
    EXPECT_LT((padded.at(name).second - slot.second).abs().max().item<double>() / scale, 1e-4) << name;
  }
}

// InfLoRA's (and LoRA⁻'s, the same function) input covariance leaves padding out: the new task's A
// spans the same rows with and without padding in the batch.
TEST_P(MethodsOnFixture, InfLoraCovarianceIgnoresPadding) {
  FixtureRun setup(GetParam());
  if (!setup.batch.input_ids.defined()) GTEST_SKIP() << "image batches have no padding";
  FixtureRun padded(GetParam());
  padded.batch = test::with_padding(setup.batch, 5);
  auto projectors = [](FixtureRun& run) {
    auto options = options_of({{"rank", int64_t{2}}});
    auto inflora = method::inflora_create(options);
    auto& method = dynamic_cast<method::InfLora&>(*inflora);
    method.attach(*run.model);
    method.begin_task(*run.model, run.context(0));
    std::map<std::string, torch::Tensor> result;
    for (auto [name, layer] : method.layers()) {
      const auto A = layer->adapter_find("task0")->A.to(torch::kDouble);
      result[name] = torch::matmul(A.t(), A);
    }
    return result;
  };
  const auto plain = projectors(setup);
  const auto with_padding = projectors(padded);
  for (const auto& [name, P] : plain)
    EXPECT_LT((with_padding.at(name) - P).abs().max().item<double>() / P.abs().max().item<double>(), 1e-3) << name;
}

// ---- MIGU ----------------------------------------------------------------------------------------

// Σ_tokens |y| per output neuron of every linear layer, for `batch` (what MIGU ranks rows by).
std::map<std::string, torch::Tensor> output_magnitudes(model::Model& model, const model::Batch& batch) {
  std::map<std::string, torch::Tensor> sums;
  auto layers = model.linear_layers();
  for (auto& [name, layer] : layers) {
    auto* sum = &sums[name];
    layer->observer_set([sum](const torch::Tensor& /*x*/, const torch::Tensor& y) {
      auto s = y.abs().reshape({-1, y.size(-1)}).sum(0).to(torch::kFloat);
      *sum = sum->defined() ? *sum + s : s;
    });
  }
  {
    torch::NoGradGuard no_grad;
    model.forward(batch);
  }
  for (auto& [name, layer] : layers) layer->observer_clear();
  return sums;
}

// From the second task on, one step changes exactly the rows whose output magnitude is at or above
// the layer's 0.7-quantile (N − ceil(0.7·(N−1)) of them) and leaves every other row bit-identical.
TEST_P(MethodsOnFixture, MiguChangesExactlyTheKeptRows) {
  FixtureRun setup(GetParam());
  const double T = 0.7;
  auto options = options_of({{"threshold", T}});
  auto migu = method::migu_create(options);
  migu->attach(*setup.model);
  const auto magnitudes = output_magnitudes(*setup.model, setup.batch);
  migu->begin_task(*setup.model, setup.context(1));
  ASSERT_TRUE(dynamic_cast<method::Migu&>(*migu).masking());
  const auto before = setup.weights();
  setup.train(*migu, 1, 1e-3, 0.0);
  int64_t layers_checked = 0;
  for (auto& [name, layer] : setup.model->linear_layers()) {
    const auto changed = (layer->weight_out_in().detach() != before.at(name)).any(1);
    const auto& m = magnitudes.at(name);
    const auto kept = m >= torch::quantile(m, T);
    const auto N = m.size(0);
    EXPECT_EQ(kept.sum().item<int64_t>(), N - static_cast<int64_t>(std::ceil(T * static_cast<double>(N - 1)))) << name;
    // A kept row may have a zero gradient (e.g. an embedding row of an absent token): changed ⊆ kept.
    EXPECT_FALSE((changed & ~kept).any().item<bool>()) << name << ": a masked row changed";
    EXPECT_GT(changed.sum().item<int64_t>(), 0) << name;
    ++layers_checked;
  }
  EXPECT_GT(layers_checked, 0);
}

// On the first task MIGU does nothing, and with T = 0 it keeps every row: both equal SeqFT exactly.
// On OSFT the mask cannot hold: OSFT's projections mix the rows MIGU zeroes. Refused, by name.
TEST(Migu, RefusesOsftUnderneath) {
  auto options = options_of({{"on", std::string("osft")}});
  EXPECT_NE(test::error_of([&] { method::migu_create(options); }).find("migu: on = \"osft\" cannot keep both"),
            std::string::npos);
}

TEST_P(MethodsOnFixture, MiguWithoutMaskingEqualsSeqft) {
  for (const auto& [task, T] : std::vector<std::pair<int64_t, double>>{{0, 0.7}, {1, 0.0}}) {
    FixtureRun plain(GetParam()), masked(GetParam());
    auto seqft_options = options_of({});
    auto seqft = method::method_create("seqft", seqft_options);
    auto options = options_of({{"threshold", T}});
    auto migu = method::migu_create(options);
    migu->attach(*masked.model);
    migu->begin_task(*masked.model, masked.context(task));
    plain.train(*seqft, 2, 1e-3, 0.0);
    masked.train(*migu, 2, 1e-3, 0.0);
    for (auto& [name, weight] : plain.weights()) EXPECT_TRUE(torch::equal(weight, masked.weights().at(name))) << name;
  }
}

// MIGU on SeqLoRA, from the second task on: B's gradient keeps only the rows whose layer output
// magnitude Σ|y| is at or above the 0.7-quantile, and A's exactly the rows whose Σ|x·Aᵀ| is, both
// measured here by a separate pass over the same batch with the same dropout draws.
TEST_P(MethodsOnFixture, MiguMasksLoraRowsByTheirOwnStatistics) {
  FixtureRun setup(GetParam());
  const double T = 0.7;
  auto options = options_of({{"threshold", T}, {"on", std::string("seqlora")}});
  auto migu = method::migu_create(options);
  migu->attach(*setup.model);
  migu->begin_task(*setup.model, setup.context(0));
  setup.train(*migu, 2, 1e-2, 0.0);  // task 1: unmasked, so B is no longer zero
  migu->end_task(*setup.model, setup.context(0));

  std::map<std::string, torch::Tensor> outputs, inputs;  // Σ|y| per output row, Σ|x·Aᵀ| per rank
  auto layers = setup.model->linear_layers();
  for (auto& [name, layer] : layers) {
    if (layer->adapters().empty()) continue;
    auto* output = &outputs[name];
    auto* input = &inputs[name];
    const auto A = layer->adapters().front().A.detach();
    layer->observer_set([output, input, A](const torch::Tensor& x, const torch::Tensor& y) {
      *output = y.abs().reshape({-1, y.size(-1)}).sum(0).to(torch::kFloat);
      *input = torch::matmul(x.to(A.scalar_type()), A.t()).abs().reshape({-1, A.size(0)}).sum(0).to(torch::kFloat);
    });
  }
  setup.model->train();
  torch::manual_seed(5);
  {
    torch::NoGradGuard no_grad;
    setup.model->forward(setup.batch);
  }
  for (auto& [name, layer] : layers) layer->observer_clear();

  migu->begin_task(*setup.model, setup.context(1));
  torch::manual_seed(5);
  setup.model->forward(setup.batch).loss.backward();
  migu->after_backward(*setup.model);
  for (const auto& [name, output] : outputs) {
    const auto& adapter = setup.model->linear_layer(name)->adapters().front();
    const auto keep_B = output >= torch::quantile(output, T);
    const auto keep_A = inputs.at(name) >= torch::quantile(inputs.at(name), T);
    const auto moved_B = (adapter.B.grad() != 0).any(1), moved_A = (adapter.A.grad() != 0).any(1);
    EXPECT_FALSE(moved_B.logical_and(keep_B.logical_not()).any().item<bool>()) << name << ": a dropped B row moved";
    EXPECT_GT(moved_B.sum().item<int64_t>(), 0) << name;
    EXPECT_TRUE(torch::equal(moved_A, keep_A)) << name;
  }
  EXPECT_FALSE(outputs.empty());
}

// ---- O-LoRA ----------------------------------------------------------------------------------------

// λ1 Σ_layers Σ_ij |(A_old A_newᵀ)_ij| element by element, and its gradient
// ∂/∂A_new[j,k] = λ1 Σ_i sign((A_old A_newᵀ)_ij) · A_old[i,k].
TEST_P(MethodsOnFixture, OLoraPenaltyAndGradientMatchAHandComputation) {
  FixtureRun setup(GetParam());
  const double lambda1 = 0.5;
  auto options = options_of({{"lambda1", lambda1}});
  auto olora = method::olora_create(options);
  auto& method = dynamic_cast<method::OLora&>(*olora);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  method.end_task(*setup.model, setup.context(0));
  method.begin_task(*setup.model, setup.context(1));
  const auto penalty = method.penalty(*setup.model, setup.batch, {});
  ASSERT_TRUE(penalty.defined());
  penalty.backward();
  double expected = 0;
  for (auto [name, layer] : method.layers()) {
    const auto& old_A = layer->adapter_find("task0")->A;
    const auto& new_A = layer->adapter_find("task1")->A;
    auto a = old_A.detach().to(torch::kDouble), b = new_A.detach().to(torch::kDouble);
    auto oa = a.accessor<double, 2>(), nb = b.accessor<double, 2>();
    auto grad = torch::zeros_like(b);
    auto g = grad.accessor<double, 2>();
    for (int64_t i = 0; i < a.size(0); ++i) {
      for (int64_t j = 0; j < b.size(0); ++j) {
        double dot = 0;
        for (int64_t k = 0; k < a.size(1); ++k) dot += oa[i][k] * nb[j][k];
        expected += lambda1 * std::abs(dot);
        const double sign = dot > 0 ? 1 : (dot < 0 ? -1 : 0);
        for (int64_t k = 0; k < a.size(1); ++k) g[j][k] += lambda1 * sign * oa[i][k];
      }
    }
    EXPECT_LT((new_A.grad().to(torch::kDouble) - grad).abs().max().item<double>(), 1e-5) << name;
    EXPECT_FALSE(old_A.requires_grad()) << name << ": the earlier adapter must be frozen";
  }
  EXPECT_NEAR(penalty.item<double>(), expected, 1e-4 * expected);
  EXPECT_GT(expected, 0);
}

// ---- InfLoRA ----------------------------------------------------------------------------------------

// After a task the memory is an orthonormal basis; the next task's A rows lie in its orthogonal
// complement, and only B trains.
// The memory grows until it holds ε of the energy: Σσ(C)² by default, as the official update_DualGPM
// (it decomposes the covariance itself), or Σλ (the paper's GPM criterion). C = diag(4, 2, 1, 1),
// ε = 0.8: squared energies 16, 4, 1, 1 reach 0.8 with two directions, trace energies 4, 2, 1, 1
// need three.
TEST(InfLora, MemoryGrowsBySquaredEnergyAsTheOfficialCode) {
  const auto C = torch::diag(torch::tensor({4.0f, 2.0f, 1.0f, 1.0f}));
  const auto empty = torch::zeros({4, 0});
  const auto squared = method::inflora_memory_grow(C, empty, 0.8, 4, method::InfLoraEnergy::Squared);
  const auto trace = method::inflora_memory_grow(C, empty, 0.8, 4, method::InfLoraEnergy::Trace);
  EXPECT_EQ(squared.size(1), 2);
  EXPECT_EQ(trace.size(1), 3);
  // The second growth keeps the first columns and adds only directions outside them.
  const auto grown = method::inflora_memory_grow(C, squared, 0.99, 4, method::InfLoraEnergy::Squared);
  ASSERT_EQ(grown.size(1), 4);
  EXPECT_TRUE(torch::equal(grown.narrow(1, 0, 2), squared));
  EXPECT_LT((torch::matmul(grown.t(), grown) - torch::eye(4)).abs().max().item<double>(), 1e-5);
  auto options = options_of({});
  method::inflora_create(options);
  EXPECT_EQ(options.values().at("energy"), config::OptionValue(std::string("squared")));
}

// The official code's adapters: key and value projections, rank 10, ΔW = B·A unscaled.
TEST(InfLora, DefaultsFollowTheOfficialCode) {
  FixtureRun setup("llama");
  auto options = options_of({});
  auto inflora = method::inflora_create(options);
  auto& method = dynamic_cast<method::InfLora&>(*inflora);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  std::set<std::string> leaves;
  for (auto [name, layer] : method.layers()) {
    leaves.insert(method::module_leaf(name));
    const auto* adapter = layer->adapter_find("task0");
    ASSERT_NE(adapter, nullptr) << name;
    EXPECT_EQ(adapter->A.size(0), 10) << name;
    EXPECT_DOUBLE_EQ(adapter->scale, 1.0) << name;
  }
  EXPECT_EQ(leaves, (std::set<std::string>{"k_proj", "v_proj"}));
}

// After a task, the new task's A (orthogonal rows of norm 1/√3) spans the top-r left singular
// vectors of (I − M Mᵀ)·C, with M the stored memory and C = E[x xᵀ] of the task's real tokens, computed here by
// hand, so it lies outside span(M); only B trains.
TEST_P(MethodsOnFixture, InfLoraNewASpansTheTopProjectedInputDirections) {
  FixtureRun setup(GetParam());
  const int64_t r = 2;
  auto options = options_of({{"rank", r}});
  auto inflora = method::inflora_create(options);
  auto& method = dynamic_cast<method::InfLora&>(*inflora);
  method.attach(*setup.model);
  method.begin_task(*setup.model, setup.context(0));
  setup.train(method, 2, 1e-2, 0.0);
  method.end_task(*setup.model, setup.context(0));
  method.begin_task(*setup.model, setup.context(1));
  for (const auto& group : method.trainable(*setup.model, 0.0)) {
    for (const auto& name : group.names) EXPECT_EQ(name.find("lora_A"), std::string::npos) << name;
  }
  // The new adapter's B is zero, so the layers' inputs are those begin_task measured.
  std::map<std::string, torch::Tensor> covariances;
  for (auto [name, layer] : method.layers()) {
    auto* C = &covariances[name];
    layer->observer_set([C](const torch::Tensor& x, const torch::Tensor&) {
      auto rows = nn::real_token_rows(x).to(torch::kDouble);
      *C = torch::matmul(rows.t(), rows) / static_cast<double>(rows.size(0));
    });
  }
  {
    torch::NoGradGuard no_grad;
    setup.model->forward(setup.batch);
  }
  int64_t checked = 0;
  for (auto [name, layer] : method.layers()) {
    layer->observer_clear();
    const auto M = method.memory(name).to(torch::kDouble);
    ASSERT_GT(M.size(1), 0) << name;
    EXPECT_LT((torch::matmul(M.t(), M) - torch::eye(M.size(1), torch::kDouble)).abs().max().item<double>(), 1e-4)
        << name;
    const auto A = layer->adapter_find("task1")->A.to(torch::kDouble);
    EXPECT_LT(frobenius(torch::matmul(A, M)) / frobenius(A), 1e-5) << name;
    EXPECT_LT((torch::matmul(A, A.t()) * 3 - torch::eye(r, torch::kDouble)).abs().max().item<double>(), 1e-4) << name;
    // Directions the top r do not single out are left out: those the task barely has outside the
    // memory (S below 1e-4 of the top, the rounding of the method's fp32 covariance; A's rows there
    // are any orthonormal completion) and those tied (within 1 %) with the (r+1)-th. The rest must
    // lie in A's row space.
    const auto I = torch::eye(M.size(0), torch::kDouble);
    const auto [U, S, Vh] = torch::linalg_svd(torch::matmul(I - torch::matmul(M, M.t()), covariances.at(name)), false);
    const double next = r < S.size(0) ? S[r].item<double>() : 0.0;
    int64_t clear = 0;
    while (clear < r && S[clear].item<double>() > std::max(1e-4 * S[0].item<double>(), 1.01 * next)) ++clear;
    if (clear == 0) continue;
    ++checked;
    const auto top = U.narrow(1, 0, clear);
    EXPECT_LT((torch::matmul(torch::matmul(A.t(), A) * 3, top) - top).abs().max().item<double>(), 1e-3) << name;
  }
  EXPECT_GT(checked, 0);
}

// The LoRA baselines, O-LoRA and TreeLoRA put dropout 0.1 on every adapter's input as their official
// scripts do (lora_dropout 0.1); InfLoRA, LoRA⁻ and Selective LoRA none; `dropout` sets it.
TEST(LoraDropout, DefaultsFollowTheOfficialScripts) {
  const std::vector<std::pair<std::string, double>> expected{
      {"seqlora", 0.1}, {"o-lora", 0.1},     {"inclora", 0.1},        {"treelora", 0.1},
      {"inflora", 0.0}, {"lora-minus", 0.0}, {"selective-lora", 0.0}, {"seqlora --dropout 0.3", 0.3}};
  for (const auto& [spec, dropout] : expected) {
    SCOPED_TRACE(spec);
    FixtureRun setup("llama");
    const auto name = spec.substr(0, spec.find(' '));
    auto options = spec == name ? options_of({}) : options_of({{"dropout", 0.3}});
    auto method = method::method_create(name, options);
    method->attach(*setup.model);
    method->begin_task(*setup.model, setup.context(0));
    int64_t adapters = 0;
    for (auto& [layer_name, layer] : setup.model->linear_layers()) {
      for (const auto& adapter : layer->adapters()) {
        EXPECT_DOUBLE_EQ(adapter.dropout, dropout) << layer_name;
        ++adapters;
      }
    }
    EXPECT_GT(adapters, 0);
  }
}

// ---- EWC ----------------------------------------------------------------------------------------

// With one example per batch, EWC's Fisher is (1/n) Σ_n (∂ℓ_n/∂θ)², computed here example by example
// with autograd::grad; the penalty is (λ/2) Σ F (θ − θ*)².
TEST_P(MethodsOnFixture, EwcFisherMatchesAFiniteSum) {
  FixtureRun setup(GetParam());
  const auto n = setup.batch.labels.size(0);
  auto example = [&](int64_t i) {
    model::Batch one;
    auto pick = [&](const torch::Tensor& t) { return t.defined() ? t.narrow(0, i, 1) : t; };
    one.input_ids = pick(setup.batch.input_ids);
    one.attention_mask = pick(setup.batch.attention_mask);
    one.labels = pick(setup.batch.labels);
    one.pixel_values = pick(setup.batch.pixel_values);
    return one;
  };
  auto context = setup.context(0);
  context.for_each_batch = [&](const std::function<void(const model::Batch&)>& visit, int64_t) {
    for (int64_t i = 0; i < n; ++i) visit(example(i));
  };
  const double lambda = 10;
  auto options = options_of({{"lambda", lambda}, {"fisher", std::string("after-task")}});
  auto ewc = method::ewc_create(options);
  auto& method = dynamic_cast<method::Ewc&>(*ewc);
  method.attach(*setup.model);
  method.end_task(*setup.model, context);

  auto params = setup.model->named_parameters();
  std::vector<torch::Tensor> tensors;
  for (const auto& item : params) tensors.push_back(item.value());
  std::vector<torch::Tensor> expected(tensors.size());
  for (int64_t i = 0; i < n; ++i) {
    auto grads = torch::autograd::grad({setup.model->forward(example(i)).loss}, tensors, {}, false, false, true);
    for (size_t p = 0; p < tensors.size(); ++p) {
      if (!grads[p].defined()) continue;
      auto sq = grads[p].pow(2) / static_cast<double>(n);
      expected[p] = expected[p].defined() ? expected[p] + sq : sq;
    }
  }
  size_t p = 0;
  for (const auto& item : params) {
    if (expected[p].defined()) {
      const auto& fisher = method.fisher().at(item.key());
      EXPECT_LT((fisher - expected[p]).abs().max().item<double>(), 1e-6 + 1e-4 * expected[p].abs().max().item<double>())
          << item.key();
    }
    ++p;
  }
  // Move the parameters and compare the penalty with its formula.
  double expected_penalty = 0;
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : params) {
      auto shift = torch::full_like(item.value(), 0.01);
      item.value().add_(shift);
      if (method.fisher().count(item.key()))
        expected_penalty += (method.fisher().at(item.key()) * shift.pow(2)).sum().item<double>();
    }
  }
  expected_penalty *= lambda / 2;
  EXPECT_NEAR(method.penalty(*setup.model, setup.batch, {}).item<double>(), expected_penalty,
              1e-5 * expected_penalty + 1e-12);
}

// TRACE's Fisher: each step's squared gradient, clamped element by element to ±grad_clamp, summed
// over the task and divided by its steps per epoch at the end, the running sum of earlier tasks
// included. At lr 0 every step sees the same gradient g: 4 steps of a 2-epoch task give
// F₁ = 4·clamp(g)²/2, and a second such task F₂ = (F₁ + 4·clamp(g)²)/2.
TEST_P(MethodsOnFixture, EwcTraceFisherSumsClampedStepGradientsPerEpoch) {
  FixtureRun setup(GetParam());
  auto params = setup.model->named_parameters();
  std::map<std::string, torch::Tensor> g;
  for (auto& item : params) item.value().mutable_grad() = torch::Tensor();
  setup.model->forward(setup.batch).loss.backward();
  double largest = 0;
  for (auto& item : params) {
    if (!item.value().grad().defined()) continue;
    g[item.key()] = item.value().grad().clone();
    largest = std::max(largest, g[item.key()].abs().max().item<double>());
    item.value().mutable_grad() = torch::Tensor();
  }
  const double clamp = largest / 4;  // some elements are clamped on every fixture
  auto options = options_of({{"grad_clamp", clamp}});
  auto ewc = method::ewc_create(options);
  auto& method = dynamic_cast<method::Ewc&>(*ewc);
  method.attach(*setup.model);
  for (int64_t task = 0; task < 2; ++task) {
    auto context = setup.context(task);
    context.steps = 4;
    context.epochs = 2;
    method.begin_task(*setup.model, context);
    setup.train(method, 4, 0.0, 0.0);
    method.end_task(*setup.model, context);
    for (const auto& [name, grad] : g) {
      const auto step = grad.clamp(-clamp, clamp).pow(2);
      const auto expected = task == 0 ? step * 4 / 2 : (step * 4 / 2 + step * 4) / 2;
      const auto& fisher = method.fisher().at(name);
      EXPECT_LT((fisher - expected).abs().max().item<double>(), 1e-6 * expected.abs().max().item<double>() + 1e-12)
          << name << " after task " << task;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MethodsOnFixture, ::testing::ValuesIn(test::model_fixtures()), test_name);

// ---- randomized SVD ---------------------------------------------------------------------------------

// On a matrix with a decaying spectrum, the randomized top-k (8 oversampled columns, 2 power
// iterations) finds the top singular values to 1e-4 relative and the subspace to 1e-3.
TEST(OsftSvd, RandomizedTopKMatchesTheFullSvd) {
  torch::manual_seed(0);
  const int64_t N = 96, M = 64, k = 16;
  auto [q1, r1] = torch::linalg_qr(torch::randn({N, M}), "reduced");
  auto [q2, r2] = torch::linalg_qr(torch::randn({M, M}), "reduced");
  auto spectrum = torch::pow(0.8, torch::arange(M, torch::kFloat));
  auto w = torch::matmul(q1 * spectrum, q2.t());
  method::OsftSettings full, randomized;
  randomized.svd = method::OsftSvd::Randomized;
  const auto exact = method::osft_top_singular(w, k, full, {1});
  const auto approx = method::osft_top_singular(w, k, randomized, {1});
  EXPECT_LT(((approx.s - exact.s).abs() / exact.s).max().item<double>(), 1e-4);
  auto projector = [](const torch::Tensor& U) { return torch::matmul(U, U.t()); };
  EXPECT_LT(frobenius(projector(approx.U) - projector(exact.U)), 1e-3);
  EXPECT_LT(frobenius(projector(approx.V) - projector(exact.V)), 1e-3);
}

// A matrix [N, M] with singular values 0.9^i and random singular vectors.
torch::Tensor decaying_spectrum(int64_t N, int64_t M) {
  const auto R = std::min(N, M);
  auto [q1, r1] = torch::linalg_qr(torch::randn({N, R}), "reduced");
  auto [q2, r2] = torch::linalg_qr(torch::randn({M, R}), "reduced");
  return torch::matmul(q1 * torch::pow(0.9, torch::arange(R, torch::kFloat)), q2.t());
}

// The exact decomposition (float64 Gram matrix of the short side) against LAPACK's float64 SVD, for
// tall, wide and square matrices, one at a time and in a batch: singular values to 1e-5 relative,
// the frozen subspaces to 1e-4, and the short side's complement (both sides' for a square matrix)
// orthonormal and orthogonal to them.
TEST(OsftSvd, GramTopKMatchesLapack) {
  torch::manual_seed(0);
  for (const auto& [N, M] : std::vector<std::pair<int64_t, int64_t>>{{96, 32}, {32, 96}, {48, 48}}) {
    SCOPED_TRACE(std::to_string(N) + " x " + std::to_string(M));
    const int64_t k = 3 * std::min(N, M) / 4;
    auto batch = torch::stack({decaying_spectrum(N, M), decaying_spectrum(N, M)});
    const auto top = method::osft_top_singular(batch, k, {}, {1, 2});
    for (int64_t b = 0; b < 2; ++b) {
      const auto one = method::osft_top_singular(batch[b], k, {}, {1});
      EXPECT_TRUE(torch::allclose(one.U, top.U[b]) && torch::allclose(one.V, top.V[b]));
      auto [U, s, Vh] = torch::linalg_svd(batch[b].to(torch::kDouble), false, {});
      const auto exact = s.narrow(0, 0, k).to(torch::kFloat);
      EXPECT_LT(((top.s[b] - exact).abs() / exact).max().item<double>(), 1e-5);
      const auto projector = [](const torch::Tensor& Q) { return torch::matmul(Q, Q.t()).to(torch::kDouble); };
      EXPECT_LT(frobenius(projector(top.U[b]) - projector(U.narrow(1, 0, k))), 1e-4);
      EXPECT_LT(frobenius(projector(top.V[b]) - projector(Vh.narrow(0, 0, k).t())), 1e-4);
      EXPECT_EQ(top.U_rest.defined(), N <= M);
      EXPECT_EQ(top.V_rest.defined(), N >= M);
      for (const auto& [rest, frozen] : {std::pair{top.U_rest, top.U}, std::pair{top.V_rest, top.V}}) {
        if (!rest.defined()) continue;
        EXPECT_EQ(rest.size(2), std::min(N, M) - k);
        EXPECT_LT(frobenius(torch::matmul(rest[b].t(), rest[b]) - torch::eye(rest.size(2))), 1e-5);
        EXPECT_LT(frobenius(torch::matmul(rest[b].t(), frozen[b])), 1e-5);
      }
    }
  }
}

// Whichever bases the sides keep (the frozen directions or their complement, by k), the strict
// projection is (I − U_hU_hᵀ) X (I − V_hV_hᵀ) to float32 rounding, and the frozen part F₀ is
// U_h diag(s_h) V_hᵀ.
TEST(OsftSvd, StrictProjectionMatchesTheTextbookFormulaOnEverySide) {
  torch::manual_seed(1);
  for (const auto& [N, M] : std::vector<std::pair<int64_t, int64_t>>{{96, 32}, {32, 96}, {48, 48}, {40, 48}}) {
    for (const double frozen_share : {0.75, 0.5, 0.1}) {
      const auto k = std::max<int64_t>(1, static_cast<int64_t>(frozen_share * static_cast<double>(std::min(N, M))));
      SCOPED_TRACE(std::to_string(N) + " x " + std::to_string(M) + ", k " + std::to_string(k));
      const auto w = decaying_spectrum(N, M);
      const auto top = method::osft_top_singular(w, k, {}, {1});
      const auto f = method::osft_frozen(w, top, method::OsftProjection::Strict);
      const auto& U = top.U;
      const auto& V = top.V;
      const auto X = torch::randn({N, M});
      const auto textbook = torch::matmul(torch::matmul(torch::eye(N) - torch::matmul(U, U.t()), X),
                                          torch::eye(M) - torch::matmul(V, V.t()));
      EXPECT_LT(frobenius(method::osft_strict_projection(X, f) - textbook) / frobenius(X), 1e-5);
      EXPECT_LT(frobenius(f.top - torch::matmul(U * top.s, V.t())) / frobenius(w), 1e-5);
    }
  }
}

// With a randomized SVD (no oversampling, no power iteration: U_h, V_h far from exact singular
// vectors) the first step after a boundary changes each target weight by no more than AdamW's first
// update, which moves every element by at most lr (a Frobenius bound; both projections are
// non-expansive). Restoring U_h diag(s_h) V_hᵀ instead wipes W₀'s blocks between the frozen and the
// free subspaces, which have no gradient behind them and are far larger.
TEST(OsftSvd, RandomizedFirstStepMovesTheWeightsByOneUpdate) {
  for (const auto projection : {method::OsftProjection::Strict, method::OsftProjection::Paper}) {
    SCOPED_TRACE(std::string(config::word_of(projection)));
    test::FixtureRun setup("llama");
    auto options = options_of({{"svd", std::string("randomized")},
                               {"oversample", int64_t{0}},
                               {"power_iterations", int64_t{0}},
                               {"unfreeze_rank_ratio", 0.5},
                               {"projection", std::string(config::word_of(projection))}});
    auto osft = method::osft_create(options);
    auto& method = dynamic_cast<method::Osft&>(*osft);
    method.attach(*setup.model);
    method.begin_task(*setup.model, setup.context(0));
    const auto before = setup.weights();
    const double lr = 1e-5;
    setup.train(method, 1, lr, 0.0);
    ASSERT_FALSE(method.frozen().empty());
    for (const auto& [name, f] : method.frozen()) {
      const auto& w0 = before.at(name);
      const auto delta = setup.model->linear_layer(name)->weight_out_in().detach() - w0;
      EXPECT_GT(frobenius(delta), 0) << name;
      EXPECT_LE(frobenius(delta), lr * std::sqrt(static_cast<double>(w0.numel())) * 1.001) << name;
    }
  }
}

}  // namespace
