// The prototype (nearest-class-mean) head on the image-classifier fixtures: prototypes are the
// per-class means of the final [CLS] features, logits are −‖f̂ − p̂‖² over the stored classes and
// −inf elsewhere, and the state round-trips.
#include <gtest/gtest.h>

#include <limits>

#include "model/checkpoint.h"
#include "model/golden.h"
#include "test-support.h"
#include "train/prototype-head.h"

namespace {

using namespace retain;

std::vector<std::string> image_fixtures() {
  std::vector<std::string> names;
  for (const auto& name : test::model_fixtures()) {
    if (model::model_load(test::fixture_path(name))->kind() == model::ModelKind::ImageClassifier) names.push_back(name);
  }
  return names;
}

TEST(PrototypeHead, MeansLogitsAndStateOnTheImageFixtures) {
  const auto fixtures = image_fixtures();
  if (fixtures.empty()) GTEST_SKIP() << "no image-classifier fixture";
  for (const auto& fixture : fixtures) {
    auto model = model::model_load(test::fixture_path(fixture));
    auto batch = model::golden_batch(test::fixture_path(fixture));
    ASSERT_TRUE(batch.labels.defined()) << fixture;
    // Labels 0,1,0,1,... so that classes have several members (the golden labels may not).
    const auto n = batch.pixel_values.size(0);
    batch.labels = torch::arange(n, torch::kLong).remainder(2);
    torch::Tensor features;
    {
      torch::NoGradGuard no_grad;
      features = model->forward(batch).features.to(torch::kFloat);
    }
    train::PrototypeHead head;
    head.add_classes(*model, [&](const std::function<void(const model::Batch&)>& visit, int64_t) { visit(batch); });
    const auto num_labels = model->forward(batch).logits.size(1);
    ASSERT_GE(num_labels, 3) << fixture << ": needs a class without a prototype";
    std::vector<torch::Tensor> means;
    for (int64_t c = 0; c < 2; ++c) means.push_back(features.index({batch.labels.eq(c)}).mean(0));
    const auto p = train::unit_rows(torch::stack(means));
    EXPECT_LT((head.normalised() - p).abs().max().item<double>(), 1e-6) << fixture;
    const auto logits = head.logits(features, num_labels);
    const auto f = train::unit_rows(features);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t c = 0; c < 2; ++c) {
        const double expected = -(f[i] - p[c]).pow(2).sum().item<double>();
        EXPECT_NEAR(logits[i][c].item<double>(), expected, 1e-5) << fixture;
      }
      for (int64_t c = 2; c < num_labels; ++c)
        EXPECT_EQ(logits[i][c].item<float>(), -std::numeric_limits<float>::infinity());
    }
    train::PrototypeHead loaded;
    loaded.load_state(head.state());
    EXPECT_TRUE(torch::equal(loaded.logits(features, num_labels), logits)) << fixture;
  }
}

}  // namespace
