// LoRA⁻'s defining properties on every model fixture: every projected Adam update of the new
// adapter lies in the stored drift-resistant subspace to float precision; the statistics pass sees
// exactly the subtracted model W0 − ΣΔW and leaves the model as it was; subtracting the adapters'
// deltas from the weights and adding them back restores the weights; and the augmented triplet
// loss matches a hand computation.
#include <gtest/gtest.h>

#include "compat.h"
#include "method-fixture.h"
#include "method/lora-minus.h"
#include "nn/token-mask.h"

namespace {

using namespace retain;
using test::FixtureRun;
using test::options_of;

class LoraMinusOnFixture : public ::testing::TestWithParam<std::string> {};

// Trains task 0, starts task 1 (statistics pass, projectors) and returns the method.
std::unique_ptr<method::Method> two_tasks(FixtureRun& setup, double energy) {
  auto options = options_of({{"rank", int64_t{2}}, {"energy", energy}});
  auto method = method::lora_minus_create(options);
  method->attach(*setup.model);
  method->use_prototype_head([] { return torch::Tensor(); });  // a prototype head with no classes yet
  method->begin_task(*setup.model, setup.context(0));
  setup.train(*method, 3, 1e-2, 0.0);
  method->end_task(*setup.model, setup.context(0));
  method->begin_task(*setup.model, setup.context(1));
  return method;
}

// The orthogonal projector Π onto the subspace of T = P Pᵀ/√m, and m.
std::pair<torch::Tensor, int64_t> subspace_of(const torch::Tensor& T) {
  auto [values, vectors] = compat::eigh_descending(T.to(torch::kDouble));
  const double top = values[0].item<double>();
  const auto m = values.gt(0.5 * top).sum().item<int64_t>();
  auto P = vectors.narrow(1, 0, m);
  return {torch::matmul(P, P.t()), m};
}

TEST_P(LoraMinusOnFixture, ProjectedUpdatesLieInTheStoredSubspace) {
  FixtureRun setup(GetParam());
  auto created = two_tasks(setup, 0.99);
  auto& method = dynamic_cast<method::LoraMinus&>(*created);
  // m is the fewest top eigenvectors of the subtracted model's input second moment that hold 0.99 of
  // its trace, and T's subspace is theirs.
  const auto moments = method.subtracted_second_moments(*setup.model, setup.context(1));
  for (auto [name, layer] : method.layers()) {
    auto [values, vectors] = compat::eigh_descending(moments.at(name).to(torch::kDouble));
    const auto energy = values.clamp_min(0).cumsum(0) / values.clamp_min(0).sum();
    const auto fewest = std::min(energy.lt(0.99).sum().item<int64_t>() + 1, values.size(0));
    const auto [Pi, m] = subspace_of(method.projector(name));
    EXPECT_EQ(m, fewest) << name;
    const auto top = vectors.narrow(1, 0, fewest);
    EXPECT_LT((Pi - torch::matmul(top, top.t())).abs().max().item<double>(), 1e-4) << name;
  }
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> start;
  for (auto [name, layer] : method.layers()) {
    auto* adapter = layer->adapter_find("task1");
    start[name] = {adapter->A.detach().clone(), adapter->B.detach().clone()};
  }
  setup.train(method, 3, 1e-2, 0.01);
  for (auto [name, layer] : method.layers()) {
    const auto T = method.projector(name);
    ASSERT_TRUE(T.defined()) << name;
    const auto [Pi, m] = subspace_of(T);
    const auto in = layer->options().in_features;
    EXPECT_LT(m, in) << name << ": the subspace must be a proper one for the test to mean anything";
    EXPECT_NEAR(T.norm().item<double>(), 1.0, 1e-5) << name << ": T = P Pᵀ/‖P Pᵀ‖_F";
    const auto I = torch::eye(in, torch::kDouble);
    auto* adapter = layer->adapter_find("task1");
    const auto dA = (adapter->A.detach() - start[name].first).to(torch::kDouble);
    ASSERT_GT(dA.norm().item<double>(), 0) << name;
    EXPECT_LT(torch::matmul(dA, I - Pi).norm().item<double>(), 1e-5 * dA.norm().item<double>()) << name;
    if (layer->options().out_features == in) {
      const auto dB = (adapter->B.detach() - start[name].second).to(torch::kDouble);
      ASSERT_GT(dB.norm().item<double>(), 0) << name;
      EXPECT_LT(torch::matmul(I - Pi, dB).norm().item<double>(), 1e-5 * dB.norm().item<double>()) << name;
    }
  }
}

// The statistics of the pass equal those of a model whose weights are W0 − ΣΔW with no adapters
// on; afterwards the outputs are bit-identical to before. Subtracting every adapter's delta from
// the weights and adding it back restores them to float rounding.
TEST_P(LoraMinusOnFixture, SubtractionThenAdditionRestoresTheWeights) {
  FixtureRun setup(GetParam());
  auto created = two_tasks(setup, 0.99);
  auto& method = dynamic_cast<method::LoraMinus&>(*created);
  setup.train(method, 2, 1e-2, 0.0);
  const auto before = setup.model->forward(setup.batch).logits.detach().clone();
  const auto moments = method.subtracted_second_moments(*setup.model, setup.context(1));
  EXPECT_TRUE(torch::equal(setup.model->forward(setup.batch).logits.detach(), before));

  const auto weights = setup.weights();
  for (auto [name, layer] : method.layers()) {
    layer->adapter_subtract("task0");
    layer->adapter_find("task0")->active = false;
    layer->adapter_find("task1")->active = false;
  }
  // The explicit subtracted model sees the same inputs at every target layer.
  std::map<std::string, torch::Tensor> explicit_moments;
  for (auto [name, layer] : method.layers()) {
    auto& sum = explicit_moments[name];
    layer->observer_set([&sum](const torch::Tensor& x, const torch::Tensor&) {
      auto flat = nn::real_token_rows(x).to(torch::kFloat);
      sum = torch::matmul(flat.t(), flat) / static_cast<double>(flat.size(0));
    });
  }
  {
    torch::NoGradGuard no_grad;
    setup.model->forward(setup.batch);
  }
  for (auto [name, layer] : method.layers()) {
    layer->observer_clear();
    const auto scale = std::max(1.0, moments.at(name).abs().max().item<double>());
    EXPECT_LT((moments.at(name) - explicit_moments.at(name)).abs().max().item<double>(), 1e-4 * scale) << name;
  }
  for (auto [name, layer] : method.layers()) {
    layer->adapter_merge("task0");  // W0 − ΔW + ΔW
    const auto& w = weights.at(name);
    const auto restored = layer->weight_out_in().detach();
    EXPECT_LT((restored - w).abs().max().item<double>(), 1e-6 * std::max(1.0, w.abs().max().item<double>())) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, LoraMinusOnFixture, ::testing::ValuesIn(test::model_fixtures()),
                         test::param_name<::testing::TestParamInfo<std::string>>);

// Three unit features of classes 0, 0, 1 and one old prototype; every distance by hand.
TEST(AugmentedTripletLoss, MatchesAHandComputation) {
  const auto f = torch::tensor({{1.0f, 0.0f}, {0.6f, 0.8f}, {0.0f, 1.0f}});
  const auto labels = torch::tensor({0, 0, 1}, torch::kLong);
  const auto prototype = torch::tensor({{0.8f, 0.6f}});
  const double margin = 0.5;
  auto d = [&](int i, int j) { return (f[i] - f[j]).norm().item<double>(); };
  auto dp = [&](int i) { return (f[i] - prototype[0]).norm().item<double>(); };
  auto hinge = [&](double ap, double an) { return std::max(0.0, ap - an + margin); };
  const double without =
      (hinge(d(0, 1), d(0, 2)) + hinge(d(1, 0), d(1, 2)) + hinge(0.0, std::min(d(2, 0), d(2, 1)))) / 3;
  const double with = (hinge(d(0, 1), std::min(d(0, 2), dp(0))) + hinge(d(1, 0), std::min(d(1, 2), dp(1))) +
                       hinge(0.0, std::min({d(2, 0), d(2, 1), dp(2)}))) /
                      3;
  EXPECT_NEAR(method::augmented_triplet_loss(f, labels, torch::Tensor(), margin).item<double>(), without, 1e-5);
  EXPECT_NEAR(method::augmented_triplet_loss(f, labels, prototype, margin).item<double>(), with, 1e-5);
  EXPECT_GT(with, without);  // the prototype is a nearer negative for the class-0 samples
  // A batch of one class with no prototypes: d_an = d_ap + margin, so the loss is 0.
  EXPECT_NEAR(
      method::augmented_triplet_loss(f.narrow(0, 0, 2), labels.narrow(0, 0, 2), torch::Tensor(), margin).item<double>(),
      0.0, 1e-6);
}

// An image classifier's head trains at 4× the adapters' learning rate (the official configs: head
// 2e-3, adapters 5e-4); the adapters at train.lr.
TEST(LoraMinus, TheHeadTrainsAtTheOfficialMultipleOfTheAdapterRate) {
  FixtureRun setup("vit");
  auto options = options_of({{"rank", int64_t{2}}});
  auto method = method::lora_minus_create(options);
  method->attach(*setup.model);
  method->use_prototype_head([] { return torch::Tensor(); });
  method->begin_task(*setup.model, setup.context(0));
  bool head = false, adapters = false;
  for (const auto& group : method->trainable(*setup.model, 0.0)) {
    const bool is_head = group.names.front().rfind("classifier.", 0) == 0;
    EXPECT_DOUBLE_EQ(group.lr_scale, is_head ? 4.0 : 1.0) << group.names.front();
    (is_head ? head : adapters) = true;
  }
  EXPECT_TRUE(head && adapters);
}

}  // namespace
