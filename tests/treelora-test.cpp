// TreeLoRA (method/treelora.h) with hand-computed numbers: the tree splits at the median of the
// similarity to the node's mean, the bandit's counts, means and LCBs follow the rule (the descent
// compares pooled subtrees), the reference scores and probabilities follow the official code's
// formulas, and the step clock places steps in epochs. On every model fixture: a state loaded into
// a fresh method on a fresh model continues bit for bit, paper mode keeps the gradients of exactly
// the ceil(sparsity·D) farthest layers (and the step leaves the others untouched), and the
// reference regulariser has the value −L·w and the gradient w·L·∇Q/Q.
#include <gtest/gtest.h>

#include <cmath>

#include "data/task-data.h"
#include "method/treelora.h"
#include "model/checkpoint.h"
#include "model/golden.h"
#include "optim/adamw.h"
#include "test-support.h"
#include "train/step.h"

namespace {

using namespace retain;
using method::Bandit;
using method::TaskTree;
using method::TreeNode;
const auto test_name = test::param_name<::testing::TestParamInfo<std::string>>;

torch::Tensor vec(std::vector<float> values) { return torch::tensor(values); }

// A hand-built tree node (left = right = -1: a leaf).
TreeNode tree_node(int64_t depth, std::vector<int64_t> tasks, int64_t left = -1, int64_t right = -1,
                   double median = 0) {
  TreeNode node;
  node.depth = depth;
  node.tasks = std::move(tasks);
  node.left = left;
  node.right = right;
  node.median = median;
  return node;
}

// The tree's node holding exactly `tasks` (fails the test when there is none).
const TreeNode& node_of(const TaskTree& tree, const std::vector<int64_t>& tasks) {
  for (const auto& node : tree.nodes) {
    if (node.tasks == tasks) return node;
  }
  ADD_FAILURE() << "no node holds the expected tasks";
  return tree.root();
}

// ---- the task tree ---------------------------------------------------------------------------------

// 5 tasks, 3 depths, 2 numbers per depth. Depth 0: m = (1, 0.4), σ = (1, 2, 0.4, 3.4, −1), median 1:
// left {0, 1, 3}, right {2, 4}. Depth 1 of {0, 1, 3}: m = (1, 1/3), σ = (1, 1/3, 2), median 1: left
// {0, 3}, right {1}. {0, 3} at depth 2 has equal σ (0, 0): all would go left, so halves {0} | {3}.
TEST(TreeLoraTree, SplitsAtTheMedianOfTheSimilarityToTheMean) {
  const std::vector<std::vector<torch::Tensor>> deltas = {
      {vec({1, 0}), vec({1, 0}), vec({0, 0})},   // task 0
      {vec({2, 0}), vec({0, 1}), vec({0, 0})},   // task 1
      {vec({0, 1}), vec({0, 0}), vec({0, 0})},   // task 2
      {vec({3, 1}), vec({2, 0}), vec({0, 0})},   // task 3
      {vec({-1, 0}), vec({0, 0}), vec({0, 0})},  // task 4
  };
  // The root's split by hand: σ_i = ⟨Δ_i[0], m⟩ against the lower median.
  double m0 = 0, m1 = 0;
  for (const auto& task : deltas) m0 += task[0][0].item<double>() / 5, m1 += task[0][1].item<double>() / 5;
  std::vector<double> sigma;
  for (const auto& task : deltas) sigma.push_back(task[0][0].item<double>() * m0 + task[0][1].item<double>() * m1);
  auto sorted = sigma;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[2];
  std::vector<int64_t> left, right;
  for (int64_t i = 0; i < 5; ++i) (sigma[i] >= median ? left : right).push_back(i);
  EXPECT_NEAR(median, 1.0, 1e-6);
  EXPECT_EQ(left, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(right, (std::vector<int64_t>{2, 4}));

  const auto tree = method::tree_build(deltas);
  ASSERT_FALSE(tree.empty());
  const auto& root = tree.root();
  EXPECT_EQ(root.tasks, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(root.depth, 0);
  EXPECT_NEAR(root.median, median, 1e-6);
  ASSERT_FALSE(root.leaf());
  EXPECT_EQ(tree.nodes[root.left].tasks, left);
  EXPECT_EQ(tree.nodes[root.right].tasks, right);
  EXPECT_EQ(tree.nodes[root.left].depth, 1);
  EXPECT_EQ(tree.nodes[root.right].depth, 1);

  const auto& node013 = tree.nodes[root.left];
  EXPECT_NEAR(node013.median, 1.0, 1e-6);
  EXPECT_EQ(tree.nodes[node013.left].tasks, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(tree.nodes[node013.right].tasks, (std::vector<int64_t>{1}));
  const auto& node03 = node_of(tree, {0, 3});
  EXPECT_EQ(node03.depth, 2);
  EXPECT_EQ(tree.nodes[node03.left].tasks, (std::vector<int64_t>{0}));  // the halves fallback
  EXPECT_EQ(tree.nodes[node03.right].tasks, (std::vector<int64_t>{3}));
  EXPECT_EQ(tree.nodes[node03.left].depth, 3);

  // Leaves hold one task or sit at depth D; every task is in exactly one leaf.
  std::vector<int> leaf_count(5, 0);
  for (const auto& node : tree.nodes) {
    if (!node.leaf()) continue;
    EXPECT_TRUE(node.tasks.size() <= 1 || node.depth >= 3);
    for (const auto task : node.tasks) ++leaf_count[task];
  }
  EXPECT_EQ(leaf_count, (std::vector<int>{1, 1, 1, 1, 1}));
}

// Equal similarities put every task on the left: the list is split in halves instead.
TEST(TreeLoraTree, OneSidedSplitFallsBackToHalves) {
  const std::vector<std::vector<torch::Tensor>> deltas = {
      {vec({1, 1}), vec({1, 0})}, {vec({1, 1}), vec({0, 1})}, {vec({1, 1}), vec({5, 5})}};
  const auto tree = method::tree_build(deltas);
  const auto& root = tree.root();
  EXPECT_NEAR(root.median, 2.0, 1e-6);  // σ = ⟨(1,1), (1,1)⟩ = 2 for all three
  EXPECT_EQ(tree.nodes[root.left].tasks, (std::vector<int64_t>{0}));
  EXPECT_EQ(tree.nodes[root.right].tasks, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(tree.nodes[root.right].leaf());
}

// With D = 1 the children of the root sit at depth D and are leaves, however many tasks they hold.
// σ = Δ·2.5 = (2.5, 5, 7.5, 10), lower median 5: left {1, 2, 3}, right {0}.
TEST(TreeLoraTree, NodesAtDepthDAreLeaves) {
  const std::vector<std::vector<torch::Tensor>> deltas = {{vec({1})}, {vec({2})}, {vec({3})}, {vec({4})}};
  const auto tree = method::tree_build(deltas);
  const auto& root = tree.root();
  EXPECT_NEAR(root.median, 5.0, 1e-9);
  const auto& left = tree.nodes[root.left];
  EXPECT_EQ(left.tasks, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(left.depth, 1);
  EXPECT_TRUE(left.leaf());
  EXPECT_EQ(tree.nodes[root.right].tasks, (std::vector<int64_t>{0}));
  EXPECT_EQ(tree.nodes.size(), 3u);
}

TEST(TreeLoraTree, DeltasAreConsecutiveDifferences) {
  const auto deltas = method::tree_deltas({{vec({1, 2})}, {vec({4, 6})}, {vec({4, 7})}});
  ASSERT_EQ(deltas.size(), 3u);
  EXPECT_TRUE(torch::equal(deltas[0][0], vec({1, 2})));
  EXPECT_TRUE(torch::equal(deltas[1][0], vec({3, 4})));
  EXPECT_TRUE(torch::equal(deltas[2][0], vec({0, 1})));
}

// ---- the bandit ------------------------------------------------------------------------------------

// A scripted sequence at depth 0 of 3 arms: arm 0 sees 0.5 and 0.3, arm 1 sees 0.2, arm 2 nothing.
TEST(TreeLoraBandit, CountsMeansAndLcbFollowTheRule) {
  Bandit bandit(3, 2);
  bandit.update(0, 0, 0.5);
  bandit.update(1, 0, 0.2);
  bandit.update(0, 0, 0.3);
  EXPECT_EQ(bandit.count(0, 0), 2);
  EXPECT_EQ(bandit.count(1, 0), 1);
  EXPECT_EQ(bandit.count(2, 0), 0);
  EXPECT_EQ(bandit.count(0, 1), 0);
  EXPECT_EQ(bandit.rounds(0), 3);
  EXPECT_DOUBLE_EQ(bandit.mean(0, 0), 0.4);
  EXPECT_DOUBLE_EQ(bandit.mean(1, 0), 0.2);
  EXPECT_DOUBLE_EQ(bandit.mean(2, 0), 0.0);

  const double c = 2;  // t = 3 rounds + 1
  EXPECT_NEAR(bandit.lcb(0, 0, c), 0.4 - 2 * std::sqrt(std::log(4.0) / 2), 1e-12);
  EXPECT_NEAR(bandit.lcb(1, 0, c), 0.2 - 2 * std::sqrt(std::log(4.0) / 1), 1e-12);
  EXPECT_TRUE(std::isinf(bandit.lcb(2, 0, c)) && bandit.lcb(2, 0, c) < 0);
  EXPECT_NEAR(bandit.lcb({0, 1}, 0, c), 1.0 / 3 - 2 * std::sqrt(std::log(4.0) / 3), 1e-12);  // pooled

  EXPECT_EQ(bandit.choose({0, 1, 2}, 0, c), 2);  // unexplored first
  EXPECT_EQ(bandit.choose({0, 1}, 0, c), 1);     // then the lowest LCB
  EXPECT_EQ(bandit.choose({0, 1, 2}, 1, c), 0);  // all unexplored: the first

  bandit.update(2, 0, 5.0);  // t = 5 now
  const std::vector<double> expected = {0.4 - 2 * std::sqrt(std::log(5.0) / 2), 0.2 - 2 * std::sqrt(std::log(5.0)),
                                        5.0 - 2 * std::sqrt(std::log(5.0))};
  for (int64_t arm = 0; arm < 3; ++arm) EXPECT_NEAR(bandit.lcb(arm, 0, c), expected[arm], 1e-12) << arm;
  const auto best = std::min_element(expected.begin(), expected.end()) - expected.begin();
  EXPECT_EQ(bandit.choose({0, 1, 2}, 0, c), best);
  EXPECT_EQ(best, 1);
}

// The descent compares pooled subtrees, so it can leave the arm of the lowest LCB aside: left
// {0, 1} pools 0.1 and 3 × 0.9 (n 4, mean 0.7), right {2} has 2 × 0.3. With c = 0.5 and t = 7 the
// right subtree's LCB is lower although arm 0 alone has the lowest.
TEST(TreeLoraBandit, TreeDescentComparesPooledSubtrees) {
  TaskTree tree;
  tree.nodes = {tree_node(0, {0, 1, 2}, 1, 4), tree_node(1, {0, 1}, 2, 3), tree_node(2, {0}), tree_node(2, {1}),
                tree_node(1, {2})};
  Bandit bandit(3, 2);
  bandit.update(0, 0, 0.1);
  for (int i = 0; i < 3; ++i) bandit.update(1, 0, 0.9);
  for (int i = 0; i < 2; ++i) bandit.update(2, 0, 0.3);
  const double c = 0.5, log_t = std::log(7.0);
  const double left = 0.7 - c * std::sqrt(log_t / 4), right = 0.3 - c * std::sqrt(log_t / 2);
  EXPECT_NEAR(bandit.lcb({0, 1}, 0, c), left, 1e-12);
  EXPECT_NEAR(bandit.lcb({2}, 0, c), right, 1e-12);
  ASSERT_LT(right, left);
  EXPECT_EQ(bandit.choose({0, 1, 2}, 0, c), 0);  // the flat choice
  EXPECT_EQ(method::tree_choose(tree, bandit, 0, c), 2);

  // Depth 1: only arm 0 was tried, so the unexplored right subtree comes first; once it has been
  // tried with a large distance, the left subtree's unexplored arm 1 is next.
  bandit.update(0, 1, 0.1);
  EXPECT_EQ(method::tree_choose(tree, bandit, 1, c), 2);
  bandit.update(2, 1, 10.0);
  EXPECT_EQ(method::tree_choose(tree, bandit, 1, c), 1);
}

// z = mean distance + sqrt(ln(2·R·(s+1)·(s+2))) / sqrt(2n + 1e-5), for a tried and an untried arm.
TEST(TreeLoraBandit, ReferenceScoresFollowTheCodesFormula) {
  Bandit bandit(2, 1);
  bandit.update(0, 0, 3.0);
  bandit.update(0, 0, 5.0);
  const int64_t R = 10, s = 3;
  const auto z = method::reference_scores(bandit, R, s);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{2, 1}));
  const double explore = std::sqrt(std::log(2.0 * 10 * 4 * 5));
  EXPECT_NEAR(z[0][0].item<double>(), 4.0 + explore / std::sqrt(4 + 1e-5), 1e-12);
  EXPECT_NEAR(z[1][0].item<double>(), 0.0 + explore / std::sqrt(1e-5), 1e-9);
}

// The rows of the root child holding `first` are scaled by min(median, 1.5) (1 for a leaf), z is
// divided by its range + 1e-5, and each depth's column goes through a softmax over the tasks.
TEST(TreeLoraBandit, ReferenceProbabilitiesReweightTheRootChildOfTheFirstDraw) {
  auto tree_with = [](double left_median) {
    TaskTree tree;
    tree.nodes = {tree_node(0, {0, 1, 2}, 1, 4, 0.3), tree_node(1, {0, 1}, 2, 3, left_median), tree_node(2, {0}),
                  tree_node(2, {1}), tree_node(1, {2})};
    return tree;
  };
  const std::vector<std::vector<double>> z = {{1, 2}, {3, 0.5}, {2, 2}};
  auto expected = [&](const std::vector<int64_t>& rows, double factor) {
    auto scaled = z;
    for (const auto row : rows) {
      for (auto& value : scaled[row]) value *= factor;
    }
    double lo = 1e300, hi = -1e300;
    for (const auto& row : scaled) {
      for (const auto value : row) lo = std::min(lo, value), hi = std::max(hi, value);
    }
    std::vector<std::vector<double>> p(3, std::vector<double>(2));
    for (int d = 0; d < 2; ++d) {
      double total = 0;
      for (int k = 0; k < 3; ++k) total += std::exp(scaled[k][d] / (hi - lo + 1e-5));
      for (int k = 0; k < 3; ++k) p[k][d] = std::exp(scaled[k][d] / (hi - lo + 1e-5)) / total;
    }
    return p;
  };
  const auto z_tensor = torch::tensor({1.0, 2.0, 3.0, 0.5, 2.0, 2.0}, torch::kDouble).reshape({3, 2});
  struct Case {
    double left_median;
    int64_t first;
    std::vector<int64_t> rows;
    double factor;
  };
  for (const auto& [left_median, first, rows, factor] :
       std::vector<Case>{{0.8, 0, {0, 1}, 0.8}, {0.8, 2, {2}, 1.0}, {4.0, 1, {0, 1}, 1.5}}) {
    SCOPED_TRACE("first " + std::to_string(first) + ", left median " + std::to_string(left_median));
    const auto p = method::reference_depth_probabilities(z_tensor, tree_with(left_median), first);
    const auto want = expected(rows, factor);
    for (int k = 0; k < 3; ++k) {
      for (int d = 0; d < 2; ++d) EXPECT_NEAR(p[k][d].item<double>(), want[k][d], 1e-12) << k << "," << d;
    }
  }
}

// The draws are a function of the seed: the same seed gives the same choices, and over many seeds
// every task is drawn at every depth (no task has probability 0).
TEST(TreeLoraBandit, ReferenceDrawsAreSeeded) {
  Bandit bandit(3, 2);
  bandit.update(0, 0, 1.0);
  bandit.update(1, 1, 2.0);
  TaskTree tree =
      method::tree_build({{vec({1, 0}), vec({0, 1})}, {vec({0, 1}), vec({1, 0})}, {vec({1, 1}), vec({1, 1})}});
  const auto once = method::reference_choose(bandit, tree, 8, 2, 42);
  EXPECT_EQ(method::reference_choose(bandit, tree, 8, 2, 42), once);
  ASSERT_EQ(once.size(), 2u);
  std::vector<std::vector<int>> seen(3, std::vector<int>(2, 0));
  for (uint64_t seed = 0; seed < 64; ++seed) {
    const auto chosen = method::reference_choose(bandit, tree, 8, 2, seed);
    for (int64_t d = 0; d < 2; ++d) ++seen[chosen[d]][d];
  }
  for (int k = 0; k < 3; ++k) {
    for (int d = 0; d < 2; ++d) EXPECT_GT(seen[k][d], 0) << k << "," << d;
  }
}

// ---- the step clock --------------------------------------------------------------------------------

TEST(TreeLoraClock, StepsFallIntoEpochs) {
  auto check = [](int64_t step, int64_t steps, int64_t epochs, int64_t epoch, int64_t s, int64_t R) {
    const auto at = method::epoch_position(step, steps, epochs);
    EXPECT_EQ(at.epoch, epoch) << step << " of " << steps << " in " << epochs;
    EXPECT_EQ(at.step, s) << step << " of " << steps << " in " << epochs;
    EXPECT_EQ(at.steps, R) << step << " of " << steps << " in " << epochs;
  };
  // 10 steps in 3 epochs: [0, 4), [4, 7), [7, 10); past the end, epochs of 3 go on.
  check(0, 10, 3, 0, 0, 4);
  check(3, 10, 3, 0, 3, 4);
  check(4, 10, 3, 1, 0, 3);
  check(9, 10, 3, 2, 2, 3);
  check(10, 10, 3, 3, 0, 3);
  check(8, 8, 2, 2, 0, 4);
  check(2, 2, 5, 2, 0, 1);  // more epochs than steps: one step each
  check(5, 0, 1, 5, 0, 1);  // no plan (steps 0): every step its own epoch
}

// ---- the method on the model fixtures --------------------------------------------------------------

// One fixture model, its golden batch as every task's data, and a TreeLoRA method on it.
struct TreeLoraRun {
  std::shared_ptr<model::Model> model;
  model::Batch batch;
  std::vector<data::TaskData> tasks;
  std::unique_ptr<method::Method> method;

  TreeLoraRun(const std::string& fixture, const std::string& mode) {
    model = model::model_load(test::fixture_path(fixture));
    batch = model::golden_batch(test::fixture_path(fixture));
    tasks.resize(3);
    for (size_t t = 0; t < tasks.size(); ++t) tasks[t].config.name = "task" + std::to_string(t);
    config::Options options("test", "method");
    options.set("mode", mode);
    method = method::treelora_create(options);
    method->attach(*model);
  }

  method::TreeLora& treelora() { return dynamic_cast<method::TreeLora&>(*method); }

  method::TaskContext context(int64_t index, int64_t steps, int64_t epochs) {
    method::TaskContext context;
    context.index = index;
    context.count = static_cast<int64_t>(tasks.size());
    context.seed = 7;
    context.name = tasks[index].config.name;
    context.steps = steps;
    context.epochs = epochs;
    context.for_each_batch = [this](const std::function<void(const model::Batch&)>& visit, int64_t) { visit(batch); };
    return context;
  }

  // A whole task of `steps` steps in `epochs` epochs.
  void task(int64_t index, int64_t steps, int64_t epochs) {
    method->begin_task(*model, context(index, steps, epochs));
    train(steps);
    method->end_task(*model, context(index, steps, epochs));
  }

  // `steps` optimizer steps as the training loop takes them (a fresh AdamW).
  void train(int64_t steps, double lr = 1e-2) {
    optim::AdamW optimizer(method->trainable(*model, 0.0), {});
    model->train();
    for (int64_t i = 0; i < steps; ++i)
      train::train_step(
          *model, *method, optimizer, [&](int64_t) { return batch; }, 1, lr, 1.0);
  }

  // Copies of the adapter's A and B per target layer.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> adapters() {
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
    for (auto [name, layer] : treelora().layers()) {
      const auto* adapter = layer->adapter_find("default");
      copies.emplace_back(adapter->A.detach().clone(), adapter->B.detach().clone());
    }
    return copies;
  }
};

bool has_nonzero(const torch::Tensor& grad) { return grad.defined() && grad.ne(0).any().item<bool>(); }

class TreeLoraOnFixture : public ::testing::TestWithParam<std::string> {};

// Two tasks and three steps of a third (inside its second epoch), state() into a fresh method on a
// fresh model: the tree, the bandit statistics and the summaries are equal, and one more step from
// each gives bit-identical adapters (and the same choices and statistics).
TEST_P(TreeLoraOnFixture, ResumedStateContinuesBitForBit) {
  for (const std::string mode : {"paper", "reference"}) {
    SCOPED_TRACE(mode);
    TreeLoraRun first(GetParam(), mode);
    first.task(0, 4, 2);
    first.task(1, 4, 2);
    first.method->begin_task(*first.model, first.context(2, 4, 2));
    first.train(3);
    const auto saved = first.method->state();

    TreeLoraRun second(GetParam(), mode);
    {  // the trainer restores the model's own weights (an image head trains) before the method state
      torch::NoGradGuard no_grad;
      auto trained = first.model->named_parameters();
      for (auto& item : second.model->named_parameters()) item.value().copy_(trained[item.key()]);
    }
    second.method->load_state(saved);
    auto& a = first.treelora();
    auto& b = second.treelora();
    ASSERT_EQ(a.tree().root().tasks, (std::vector<int64_t>{0, 1}));
    EXPECT_TRUE(b.tree() == a.tree());
    EXPECT_TRUE(b.bandit() == a.bandit());
    EXPECT_GT(a.bandit().rounds(0), 0);
    ASSERT_EQ(b.summaries().size(), 2u);
    for (size_t t = 0; t < 2; ++t) {
      ASSERT_EQ(b.summaries()[t].size(), a.summaries()[t].size());
      for (size_t d = 0; d < a.summaries()[t].size(); ++d) {
        EXPECT_TRUE(torch::equal(b.summaries()[t][d], a.summaries()[t][d])) << "task " << t << " depth " << d;
      }
    }

    const auto before = first.adapters();
    torch::manual_seed(11);  // LoRA dropout draws as the trainer seeds them, per step
    first.train(1);
    torch::manual_seed(11);
    second.train(1);
    const auto after_first = first.adapters(), after_second = second.adapters();
    bool moved = false;
    for (size_t d = 0; d < before.size(); ++d) {
      EXPECT_TRUE(torch::equal(after_first[d].first, after_second[d].first)) << "A of depth " << d;
      EXPECT_TRUE(torch::equal(after_first[d].second, after_second[d].second)) << "B of depth " << d;
      moved = moved || !torch::equal(after_first[d].second, before[d].second);
    }
    EXPECT_TRUE(moved) << "the step changed no adapter";
    EXPECT_EQ(b.chosen(), a.chosen());
    EXPECT_TRUE(b.bandit() == a.bandit());
  }
}

// Paper mode at the second step of task 2, after two tasks: every depth's anchor k_d is task 1 (the
// arm not pulled yet has LCB −∞), the penalty is
// reg·Σ_d mean|A_d − summary_{k_d}[d]|, and after backward exactly ceil(0.5·D) depths keep (non-zero)
// gradients, those whose distance is largest; the optimizer step (with weight decay) leaves
// the other depths' A and B bit-identical.
TEST_P(TreeLoraOnFixture, PaperModeKeepsTheGradientsOfTheFarthestLayersOnly) {
  TreeLoraRun run(GetParam(), "paper");
  run.task(0, 2, 1);
  run.task(1, 2, 1);
  run.method->begin_task(*run.model, run.context(2, 4, 1));
  run.train(1);  // the bandit has pulled task 0's arm; task 1's, unexplored, has the lower LCB now
  auto& method = run.treelora();
  optim::AdamW optimizer(method.trainable(*run.model, 0.1), {});
  run.model->train();
  auto out = run.model->forward(run.batch);
  const auto penalty = method.penalty(*run.model, run.batch, out);
  ASSERT_TRUE(penalty.defined());
  (out.loss + penalty).backward();
  method.after_backward(*run.model);

  auto layers = method.layers();
  const auto D = static_cast<int64_t>(layers.size());
  const auto kept = static_cast<int64_t>(std::ceil(0.5 * static_cast<double>(D)));
  ASSERT_EQ(static_cast<int64_t>(method.distances().size()), D);
  // The distances by hand; the kept set is the top `kept` of them.
  std::vector<double> distances;
  double total = 0;
  for (int64_t d = 0; d < D; ++d) {
    const auto k = method.chosen()[d];
    EXPECT_EQ(k, 1) << layers[d].first;
    const auto& A = layers[d].second->adapter_find("default")->A;
    distances.push_back(
        (A.detach().reshape({-1}) - method.summaries()[k][d]).abs().to(torch::kDouble).mean().item<double>());
    EXPECT_NEAR(method.distances()[d], distances[d], 1e-6 * distances[d] + 1e-9) << layers[d].first;
    total += distances[d];
  }
  // The penalty is reg · Σ_d dist_{k_d}[d] (reg 0.5).
  EXPECT_NEAR(penalty.item<double>(), 0.5 * total, 1e-5 * total);
  auto sorted = distances;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  const double threshold = sorted[kept - 1];
  int64_t with_gradients = 0;
  const auto before = run.adapters();
  for (int64_t d = 0; d < D; ++d) {
    const auto* adapter = layers[d].second->adapter_find("default");
    const bool has = has_nonzero(adapter->A.grad()) || has_nonzero(adapter->B.grad());
    with_gradients += has;
    if (has) {
      EXPECT_GE(distances[d], threshold) << layers[d].first << " kept although nearer than the threshold";
      EXPECT_TRUE(has_nonzero(adapter->B.grad())) << layers[d].first;
    } else {
      EXPECT_LT(distances[d], threshold) << layers[d].first << " dropped although among the farthest";
    }
  }
  EXPECT_EQ(with_gradients, kept);
  EXPECT_EQ(static_cast<int64_t>(method.kept_depths().size()), kept);

  optimizer.step(1e-2);
  for (int64_t d = 0; d < D; ++d) {
    const auto* adapter = layers[d].second->adapter_find("default");
    const bool kept_depth =
        std::find(method.kept_depths().begin(), method.kept_depths().end(), d) != method.kept_depths().end();
    const bool same = torch::equal(adapter->A, before[d].first) && torch::equal(adapter->B, before[d].second);
    EXPECT_EQ(same, !kept_depth) << layers[d].first;
  }
}

// Reference mode at step s = 2 of R = 4 (w = 0.5·2/4): the penalty −Q̃ has the value
// −L·w·Q/(Q + 1e-5) ≈ −L·w, and its gradient on every A_d is −w·L·∇Q/(Q + 1e-5) with
// ∇_{A_d} Q = −summary_{k_d}[d]; B gets none.
TEST_P(TreeLoraOnFixture, ReferenceRegulariserHasValueLwAndTheGradientOfLogQ) {
  TreeLoraRun run(GetParam(), "reference");
  run.task(0, 2, 1);
  run.method->begin_task(*run.model, run.context(1, 4, 1));
  run.train(2);
  auto& method = run.treelora();
  run.model->train();
  auto out = run.model->forward(run.batch);
  const auto penalty = method.penalty(*run.model, run.batch, out);
  ASSERT_TRUE(penalty.defined());
  const double w = 0.5 * 2 / 4;
  EXPECT_DOUBLE_EQ(method.reference_weight(), w);
  const double L = out.loss.item<double>();

  auto layers = method.layers();
  double Q = 0;
  for (size_t d = 0; d < layers.size(); ++d) {
    const auto& A = layers[d].second->adapter_find("default")->A;
    const auto& anchor = method.summaries()[method.chosen()[d]][d];
    Q -= (A.detach().reshape({-1}).to(torch::kDouble) * anchor.to(torch::kDouble)).sum().item<double>();
  }
  ASSERT_GT(std::abs(Q), 1e-3);
  EXPECT_NEAR(penalty.item<double>(), -L * w * Q / (Q + 1e-5), 1e-5 * std::abs(L * w));
  EXPECT_NEAR(penalty.item<double>(), -L * w, 1e-4 * std::abs(L * w));

  penalty.backward();
  for (size_t d = 0; d < layers.size(); ++d) {
    const auto* adapter = layers[d].second->adapter_find("default");
    const auto& anchor = method.summaries()[method.chosen()[d]][d];
    const auto expected = (anchor.to(torch::kDouble) * (w * L / (Q + 1e-5))).reshape(adapter->A.sizes());
    ASSERT_TRUE(adapter->A.grad().defined()) << layers[d].first;
    const double scale = expected.abs().max().item<double>();
    EXPECT_LT((adapter->A.grad().to(torch::kDouble) - expected).abs().max().item<double>(), 1e-5 * scale + 1e-12)
        << layers[d].first;
    EXPECT_FALSE(has_nonzero(adapter->B.grad())) << layers[d].first;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TreeLoraOnFixture, ::testing::ValuesIn(test::model_fixtures()), test_name);

// ---- options ----------------------------------------------------------------------------------------

TEST(TreeLoraOptions, ModeAndPaperOnlyKeysAreChecked) {
  auto create = [](std::map<std::string, config::OptionValue> values) {
    return test::error_of([&] {
      config::Options options("test", "method");
      for (auto& [key, value] : values) options.set(key, value);
      method::treelora_create(options);
    });
  };
  EXPECT_EQ(create({}), "");
  EXPECT_EQ(create({{"mode", std::string("reference")}, {"reg", 0.25}}), "");
  EXPECT_NE(
      create({{"mode", std::string("flat")}}).find("[method] key 'mode' must be one of paper, reference, got 'flat'"),
      std::string::npos);
  EXPECT_NE(create({{"mode", std::string("reference")}, {"sparsity", 0.3}}).find("paper"), std::string::npos);
  EXPECT_NE(create({{"sparsity", 0.0}}).find("sparsity must be in (0, 1]"), std::string::npos);
  EXPECT_NE(create({{"lcb", 1.0}}).find("has no key 'lcb'"), std::string::npos);
}

}  // namespace
