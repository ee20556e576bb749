// Every fixture model computes what Hugging Face computes: logits, loss, the stored gradients and
// the greedy generation (issue thresholds: 1e-4, 1e-5, 1e-4 relative, identical).
#include <gtest/gtest.h>

#include "model/golden.h"
#include "test-support.h"

namespace {

using namespace retain::model;

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesReference) {
  auto result = golden_compare(retain::test::fixture_path(GetParam()));
  ASSERT_GE(result.logits_max_abs_diff, 0) << "golden file has no logits";
  EXPECT_LE(result.logits_max_abs_diff, kGoldenLogitsTolerance) << result.model_type;
  if (result.loss_abs_diff >= 0) {
    EXPECT_LE(result.loss_abs_diff, kGoldenLossTolerance);
  }
  for (const auto& [name, error] : result.grad_rel_diff)
    EXPECT_LE(error, kGoldenGradTolerance) << "gradient of " << name;
  if (result.generation_checked) {
    EXPECT_EQ(result.generated, result.expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(retain::test::fixture_names()),
                         retain::test::param_name<::testing::TestParamInfo<std::string>>);

}  // namespace
