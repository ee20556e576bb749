// treelora.cpp - TreeLoRA: the task tree, the bandit, the step clock and the method (see treelora.h).
#include "method/treelora.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "data/shuffle.h"
#include "error.h"

namespace retain::method {

// ---- the task tree ---------------------------------------------------------------------------------

bool TreeNode::operator==(const TreeNode& other) const {
  return depth == other.depth && tasks == other.tasks && median == other.median && left == other.left &&
         right == other.right;
}

namespace {

// Appends the node of `tasks` at `depth`, then its subtrees; returns the node's index.
int64_t node_build(TaskTree& tree, const std::vector<std::vector<torch::Tensor>>& deltas, std::vector<int64_t> tasks,
                   int64_t depth) {
  const auto depths = static_cast<int64_t>(deltas.front().size());
  const auto index = static_cast<int64_t>(tree.nodes.size());
  TreeNode node;
  node.depth = depth;
  node.tasks = tasks;
  tree.nodes.push_back(node);
  if (depth >= depths || tasks.size() <= 1) return index;

  // σ_i = ⟨Δ_i[d], m⟩, m the node's mean Δ[d], in float64 on the CPU: the same split on every device.
  std::vector<torch::Tensor> rows;
  for (const auto task : tasks)
    rows.push_back(deltas[task][depth].detach().reshape({-1}).to(torch::kCPU, torch::kDouble));
  const auto stacked = torch::stack(rows);
  const auto sigma_tensor = torch::mv(stacked, stacked.mean(0)).contiguous();
  const std::vector<double> sigma(sigma_tensor.data_ptr<double>(),
                                  sigma_tensor.data_ptr<double>() + sigma_tensor.numel());
  auto sorted = sigma;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[(sorted.size() - 1) / 2];  // torch.median: the lower middle value

  std::vector<int64_t> left, right;
  for (size_t i = 0; i < tasks.size(); ++i) (sigma[i] >= median ? left : right).push_back(tasks[i]);
  if (left.empty() || right.empty()) {
    const auto half = static_cast<std::ptrdiff_t>(tasks.size() / 2);
    left.assign(tasks.begin(), tasks.begin() + half);
    right.assign(tasks.begin() + half, tasks.end());
  }
  tree.nodes[index].median = median;
  const auto left_index = node_build(tree, deltas, std::move(left), depth + 1);
  const auto right_index = node_build(tree, deltas, std::move(right), depth + 1);
  tree.nodes[index].left = left_index;
  tree.nodes[index].right = right_index;
  return index;
}

}  // namespace

TaskTree tree_build(const std::vector<std::vector<torch::Tensor>>& deltas) {
  TaskTree tree;
  if (deltas.empty()) return tree;
  for (const auto& task : deltas) {
    TORCH_CHECK(task.size() == deltas.front().size(), "treelora: every task needs the same number of depths");
  }
  std::vector<int64_t> tasks(deltas.size());
  std::iota(tasks.begin(), tasks.end(), 0);
  node_build(tree, deltas, tasks, 0);
  return tree;
}

std::vector<std::vector<torch::Tensor>> tree_deltas(const std::vector<std::vector<torch::Tensor>>& summaries) {
  std::vector<std::vector<torch::Tensor>> deltas;
  for (size_t i = 0; i < summaries.size(); ++i) {
    std::vector<torch::Tensor> delta;
    for (size_t d = 0; d < summaries[i].size(); ++d) {
      delta.push_back(i == 0 ? summaries[i][d] : summaries[i][d] - summaries[i - 1][d]);
    }
    deltas.push_back(std::move(delta));
  }
  return deltas;
}

// ---- the bandit ------------------------------------------------------------------------------------

Bandit::Bandit(int64_t arm_count, int64_t depth_count)
    : arms(arm_count),
      depths(depth_count),
      counts(static_cast<size_t>(arm_count * depth_count), 0),
      distance_sums(static_cast<size_t>(arm_count * depth_count), 0.0) {}

void Bandit::update(int64_t arm, int64_t depth, double distance) {
  TORCH_CHECK(arm >= 0 && arm < arms && depth >= 0 && depth < depths, "treelora: no bandit arm ", arm, " at depth ",
              depth);
  counts[arm * depths + depth] += 1;
  distance_sums[arm * depths + depth] += distance;
}

double Bandit::mean(int64_t arm, int64_t depth) const {
  const auto n = count(arm, depth);
  return n > 0 ? distance_sums[arm * depths + depth] / static_cast<double>(n) : 0.0;
}

int64_t Bandit::rounds(int64_t depth) const {
  int64_t total = 0;
  for (int64_t arm = 0; arm < arms; ++arm) total += count(arm, depth);
  return total;
}

double Bandit::lcb(const std::vector<int64_t>& group, int64_t depth, double c) const {
  int64_t n = 0;
  double sum = 0;
  for (const auto arm : group) {
    n += count(arm, depth);
    sum += distance_sums[arm * depths + depth];
  }
  if (n == 0) return -std::numeric_limits<double>::infinity();
  const auto t = static_cast<double>(rounds(depth) + 1);
  return sum / static_cast<double>(n) - c * std::sqrt(std::log(t) / static_cast<double>(n));
}

int64_t Bandit::choose(const std::vector<int64_t>& candidates, int64_t depth, double c) const {
  TORCH_CHECK(!candidates.empty(), "treelora: no task to choose from");
  int64_t best = candidates.front();
  double best_lcb = lcb(best, depth, c);
  for (const auto arm : candidates) {
    const double value = lcb(arm, depth, c);
    if (value < best_lcb) best = arm, best_lcb = value;
  }
  return best;
}

bool Bandit::operator==(const Bandit& other) const {
  return arms == other.arms && depths == other.depths && counts == other.counts && distance_sums == other.distance_sums;
}

int64_t tree_choose(const TaskTree& tree, const Bandit& bandit, int64_t depth, double c) {
  TORCH_CHECK(!tree.empty(), "treelora: no task tree to search");
  const TreeNode* node = &tree.root();
  while (!node->leaf()) {
    const auto& left = tree.nodes[node->left];
    const auto& right = tree.nodes[node->right];
    node = bandit.lcb(right.tasks, depth, c) < bandit.lcb(left.tasks, depth, c) ? &right : &left;
  }
  return bandit.choose(node->tasks, depth, c);
}

torch::Tensor reference_scores(const Bandit& bandit, int64_t epoch_steps, int64_t step) {
  auto z = torch::empty({bandit.arms, bandit.depths}, torch::kDouble);
  auto scores = z.accessor<double, 2>();
  const double explore = std::sqrt(
      std::log(2.0 * static_cast<double>(epoch_steps) * static_cast<double>(step + 1) * static_cast<double>(step + 2)));
  for (int64_t arm = 0; arm < bandit.arms; ++arm) {
    for (int64_t depth = 0; depth < bandit.depths; ++depth) {
      const auto n = static_cast<double>(bandit.count(arm, depth));
      scores[arm][depth] = bandit.mean(arm, depth) + explore / std::sqrt(2 * n + 1e-5);
    }
  }
  return z;
}

torch::Tensor reference_depth_probabilities(torch::Tensor z, const TaskTree& tree, int64_t first) {
  z = z.clone();
  if (!tree.empty() && !tree.root().leaf()) {
    const auto& left = tree.nodes[tree.root().left];
    const auto& right = tree.nodes[tree.root().right];
    const bool in_left = std::find(left.tasks.begin(), left.tasks.end(), first) != left.tasks.end();
    const auto& child = in_left ? left : right;
    const double factor = std::min(child.leaf() ? 1.0 : child.median, 1.5);
    for (const auto task : child.tasks) z.select(0, task).mul_(factor);
  }
  z = z / (z.max().item<double>() - z.min().item<double>() + 1e-5);
  return torch::softmax(z, 0);
}

namespace {

// Index i with probability p[i] (1-D float64), by inverse CDF on a 53-bit uniform draw: the same
// on every platform, which std::uniform_real_distribution does not promise.
int64_t sample_index(const torch::Tensor& probabilities, std::mt19937_64& rng) {
  const auto p = probabilities.contiguous();
  const auto* values = p.data_ptr<double>();
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  double cumulative = 0;
  int64_t last_possible = 0;
  for (int64_t i = 0; i < p.numel(); ++i) {
    if (values[i] <= 0) continue;
    cumulative += values[i];
    last_possible = i;
    if (u < cumulative) return i;
  }
  return last_possible;  // u beyond a cumulative sum that rounding left below 1
}

}  // namespace

std::vector<int64_t> reference_choose(const Bandit& bandit, const TaskTree& tree, int64_t epoch_steps, int64_t step,
                                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto z = reference_scores(bandit, epoch_steps, step);
  z = z + z.min();  // the code's "shift to positive" adds the minimum
  const auto first = sample_index(torch::softmax(z.sum(1), 0), rng);
  const auto probabilities = reference_depth_probabilities(z, tree, first);
  std::vector<int64_t> chosen;
  for (int64_t depth = 0; depth < bandit.depths; ++depth)
    chosen.push_back(sample_index(probabilities.select(1, depth), rng));
  return chosen;
}

// ---- the step clock --------------------------------------------------------------------------------

EpochPosition epoch_position(int64_t step, int64_t steps, int64_t epochs) {
  const int64_t S = std::max<int64_t>(1, steps);
  const int64_t E = std::clamp<int64_t>(epochs, 1, S);
  const auto begin = [&](int64_t epoch) { return (epoch * S + E - 1) / E; };
  if (step < S) {
    const int64_t epoch = step * E / S;
    return {epoch, step - begin(epoch), begin(epoch + 1) - begin(epoch)};
  }
  const int64_t last = begin(E - 1), length = S - last, past = step - last;
  return {E - 1 + past / length, past % length, length};
}

// ---- the method ------------------------------------------------------------------------------------

namespace {

std::string mode_name(TreeLoraMode mode) { return std::string(config::word_of(mode)); }

// ceil(sparsity·D) in [1, D]; the 1e-9 absorbs binary rounding (0.3·10 is 3.0000000000000004).
int64_t kept_count(double sparsity, int64_t depths) {
  return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(sparsity * static_cast<double>(depths) - 1e-9)), 1, depths);
}

}  // namespace

nn::LoraAdapter& TreeLora::adapter_at(int64_t depth) {
  auto* adapter = layers_[depth].second->adapter_find(trainable_);
  TORCH_CHECK(adapter != nullptr, "treelora: layer '", layers_[depth].first, "' has no adapter '", trainable_, "'");
  return *adapter;
}

std::vector<torch::Tensor> TreeLora::adapter_A() {
  std::vector<torch::Tensor> rows;
  for (int64_t d = 0; d < static_cast<int64_t>(layers_.size()); ++d) rows.push_back(adapter_at(d).A.reshape({-1}));
  return rows;
}

double TreeLora::reference_weight() const {
  const auto at = position();
  return tree_settings_.reg * static_cast<double>(at.step) / static_cast<double>(at.steps);
}

void TreeLora::begin_task(model::Model& /*model*/, const TaskContext& task) {
  if (adapter_names_.empty()) {  // one adapter for the whole stream
    adapter_add_everywhere("default", [&](const std::string& layer_name, nn::LinearImpl& layer) {
      return kaiming_uniform_A(layer_name, layer, data::derive_seed(task.seed, "treelora"));
    });
  }
  TORCH_CHECK(task.index == static_cast<int64_t>(summaries_.size()), "treelora: task ", task.index, " begins after ",
              summaries_.size(), " finished tasks; the tasks must come in stream order");
  task_ = task.index;
  task_steps_ = std::max<int64_t>(1, task.steps);
  task_epochs_ = std::max<int64_t>(1, task.epochs);
  step_ = 0;
  seed_ = task.seed;
  running_sum_.clear();
  running_count_ = 0;
  prepared_step_ = -1;
  chosen_.clear();
  distances_.clear();
  kept_.clear();
}

void TreeLora::prepare_step() {
  if (prepared_step_ == step_) return;
  prepared_step_ = step_;
  torch::NoGradGuard no_grad;
  const bool paper = tree_settings_.mode == TreeLoraMode::Paper;
  const auto D = static_cast<int64_t>(layers_.size());
  const auto at = position();
  if (at.step == 0) {
    running_sum_.assign(D, torch::Tensor());
    running_count_ = 0;
    if (!paper || step_ == 0) bandit_ = Bandit(task_, D);  // reference: every epoch; paper: every task
  }
  const auto A = adapter_A();
  for (int64_t d = 0; d < D; ++d) {
    auto add = paper ? A[d].clone() : A[d] * (static_cast<double>(D) / static_cast<double>(at.steps));
    running_sum_[d] = running_sum_[d].defined() ? running_sum_[d] + add : add;
  }
  ++running_count_;
  chosen_.clear();
  distances_.clear();
  kept_.clear();
  if (task_ == 0) return;  // no earlier task

  if (paper) {
    for (int64_t d = 0; d < D; ++d) chosen_.push_back(tree_choose(tree_, bandit_, d, tree_settings_.lcb_scale));
  } else {
    const auto seed =
        data::derive_seed(seed_, "treelora task " + std::to_string(task_) + " step " + std::to_string(step_));
    chosen_ = reference_choose(bandit_, tree_, at.steps, at.step, seed);
  }
  // Paper: the live A against the summary, per number; reference: ḡ against it, summed (the code's).
  std::vector<torch::Tensor> terms;
  for (int64_t d = 0; d < D; ++d) {
    const auto difference = ((paper ? A[d] : running_sum_[d]) - summaries_[chosen_[d]][d]).abs();
    terms.push_back(paper ? difference.mean() : difference.sum());
  }
  const auto values = torch::stack(terms).to(torch::kCPU, torch::kDouble).contiguous();
  distances_.assign(values.data_ptr<double>(), values.data_ptr<double>() + D);
  for (int64_t d = 0; d < D; ++d) bandit_.update(chosen_[d], d, distances_[d]);

  if (paper) {  // the farthest depths keep their gradients (stable: the lower depth first on ties)
    std::vector<int64_t> order(D);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return distances_[a] > distances_[b]; });
    kept_.assign(order.begin(), order.begin() + kept_count(tree_settings_.sparsity, D));
    std::sort(kept_.begin(), kept_.end());
  }
}

torch::Tensor TreeLora::penalty(model::Model& /*model*/, const model::Batch& /*batch*/, const model::Output& out) {
  if (task_ == 0) return {};
  prepare_step();
  const bool paper = tree_settings_.mode == TreeLoraMode::Paper;
  const auto A = adapter_A();
  torch::Tensor total;  // paper: Σ_d dist_{k_d}[d]; reference: Q = −Σ_d ⟨A_d, summary_{k_d}[d]⟩
  for (size_t d = 0; d < A.size(); ++d) {
    const auto& anchor = summaries_[chosen_[d]][d];
    auto term = paper ? (A[d] - anchor).abs().mean() : -(A[d] * anchor).sum();
    total = total.defined() ? total + term : term;
  }
  if (paper) return tree_settings_.reg * total;
  TORCH_CHECK(out.loss.defined(), "treelora: the reference regulariser needs the task loss");
  // Q̃ has the value stopgrad(L)·w and the gradient w·L·∇Q/Q; the total loss is L − Q̃.
  const auto scaled = total / (total.detach() + 1e-5) * out.loss.detach().to(total.scalar_type()) * reference_weight();
  return -scaled;
}

void TreeLora::after_backward(model::Model& /*model*/) {
  prepare_step();
  if (tree_settings_.mode != TreeLoraMode::Paper || task_ == 0) return;
  std::vector<bool> keep(layers_.size(), false);
  for (const auto d : kept_) keep[d] = true;
  for (int64_t d = 0; d < static_cast<int64_t>(layers_.size()); ++d) {
    if (keep[d]) continue;
    auto& adapter = adapter_at(d);
    adapter.A.mutable_grad() = torch::Tensor();
    adapter.B.mutable_grad() = torch::Tensor();
  }
}

void TreeLora::after_step(model::Model& /*model*/) { ++step_; }

void TreeLora::end_task(model::Model& /*model*/, const TaskContext& task) {
  TORCH_CHECK(task.index == task_ && static_cast<int64_t>(summaries_.size()) == task_, "treelora: task ", task.index,
              " ends, but task ", task_, " is being trained after ", summaries_.size(), " finished tasks");
  torch::NoGradGuard no_grad;
  const bool paper = tree_settings_.mode == TreeLoraMode::Paper;
  const auto D = static_cast<int64_t>(layers_.size());
  const auto A = adapter_A();
  std::vector<torch::Tensor> summary;
  for (int64_t d = 0; d < D; ++d) {
    if (running_count_ > 0) {
      summary.push_back(paper ? running_sum_[d] / static_cast<double>(running_count_) : running_sum_[d].clone());
    } else {  // a task that took no step: its current A (as a full epoch of it would sum to)
      summary.push_back(paper ? A[d].clone() : A[d] * static_cast<double>(D));
    }
  }
  summaries_.push_back(std::move(summary));
  tree_ = tree_build(tree_deltas(summaries_));
  running_sum_.clear();
  running_count_ = 0;
  prepared_step_ = -1;
}

void TreeLora::state_extra(MethodState& state) const {
  for (size_t t = 0; t < summaries_.size(); ++t) {
    for (size_t d = 0; d < layers_.size(); ++d) {
      state.tensors["treelora/summary/" + std::to_string(t) + "/" + layers_[d].first] =
          summaries_[t][d].detach().cpu().contiguous();
    }
  }
  for (size_t d = 0; d < running_sum_.size(); ++d) {
    if (running_sum_[d].defined())
      state.tensors["treelora/running_sum/" + layers_[d].first] = running_sum_[d].detach().cpu().contiguous();
  }
  if (bandit_.arms > 0 && bandit_.depths > 0) {
    state.tensors["treelora/bandit/counts"] =
        torch::tensor(bandit_.counts, torch::kLong).reshape({bandit_.arms, bandit_.depths});
    state.tensors["treelora/bandit/distance_sums"] =
        torch::tensor(bandit_.distance_sums, torch::kDouble).reshape({bandit_.arms, bandit_.depths});
  }
  auto nodes = nlohmann::json::array();
  for (const auto& node : tree_.nodes) {
    nodes.push_back({{"depth", node.depth},
                     {"tasks", node.tasks},
                     {"median", node.median},
                     {"left", node.left},
                     {"right", node.right}});
  }
  state.meta["treelora"] = {
      {"mode", mode_name(tree_settings_.mode)},
      {"task", task_},
      {"task_steps", task_steps_},
      {"task_epochs", task_epochs_},
      {"step", step_},
      {"seed", seed_},
      {"summaries", summaries_.size()},
      {"running_count", running_count_},
      {"bandit", {{"arms", bandit_.arms}, {"depths", bandit_.depths}}},
      {"tree", nodes},
  };
}

void TreeLora::load_state_extra(const MethodState& state) {
  const auto found = state.meta.find("treelora");
  if (found == state.meta.end()) fail("method", "treelora: the saved state has no 'treelora' entry");
  const auto& meta = *found;
  const auto mode = meta.at("mode").get<std::string>();
  if (mode != mode_name(tree_settings_.mode)) {
    fail("method", "treelora: the saved state was written in mode '", mode, "', this run is in mode '",
         mode_name(tree_settings_.mode), "'");
  }
  const auto tensor = [&](const std::string& key) -> const torch::Tensor& {
    const auto it = state.tensors.find(key);
    if (it == state.tensors.end()) fail("method", "treelora: the saved state lacks '", key, "'");
    return it->second;
  };
  task_ = meta.at("task").get<int64_t>();
  task_steps_ = meta.at("task_steps").get<int64_t>();
  task_epochs_ = meta.at("task_epochs").get<int64_t>();
  step_ = meta.at("step").get<int64_t>();
  seed_ = meta.at("seed").get<uint64_t>();
  running_count_ = meta.at("running_count").get<int64_t>();

  summaries_.assign(meta.at("summaries").get<size_t>(), {});
  for (size_t t = 0; t < summaries_.size(); ++t) {
    for (const auto& [layer_name, layer] : layers_) {
      const auto key = "treelora/summary/" + std::to_string(t) + "/" + layer_name;
      summaries_[t].push_back(tensor(key).to(layer->weight.device()).clone());
    }
  }
  running_sum_.clear();
  if (running_count_ > 0) {
    for (const auto& [layer_name, layer] : layers_) {
      running_sum_.push_back(tensor("treelora/running_sum/" + layer_name).to(layer->weight.device()).clone());
    }
  }
  bandit_ = Bandit(meta.at("bandit").at("arms").get<int64_t>(), meta.at("bandit").at("depths").get<int64_t>());
  if (bandit_.arms > 0 && bandit_.depths > 0) {
    const auto counts = tensor("treelora/bandit/counts").to(torch::kLong).contiguous();
    const auto sums = tensor("treelora/bandit/distance_sums").to(torch::kDouble).contiguous();
    TORCH_CHECK(counts.numel() == bandit_.arms * bandit_.depths && sums.numel() == counts.numel(),
                "treelora: the saved bandit statistics do not have ", bandit_.arms, " x ", bandit_.depths, " entries");
    bandit_.counts.assign(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + counts.numel());
    bandit_.distance_sums.assign(sums.data_ptr<double>(), sums.data_ptr<double>() + sums.numel());
  }
  tree_.nodes.clear();
  for (const auto& item : meta.at("tree")) {
    TreeNode node;
    node.depth = item.at("depth").get<int64_t>();
    node.tasks = item.at("tasks").get<std::vector<int64_t>>();
    node.median = item.at("median").get<double>();
    node.left = item.at("left").get<int64_t>();
    node.right = item.at("right").get<int64_t>();
    tree_.nodes.push_back(std::move(node));
  }
  prepared_step_ = -1;
  chosen_.clear();
  distances_.clear();
  kept_.clear();
}

std::unique_ptr<Method> treelora_create(config::Options& options) {
  auto settings = lora_settings_read(options, "treelora", lora_settings_with_dropout());
  TreeLoraSettings tree;
  tree.mode = options.get_word("mode", tree.mode);
  tree.reg = options.get_double("reg", 0.5);
  tree.keep_optimizer = options.get_bool("keep_optimizer", tree.mode == TreeLoraMode::Reference);
  if (!(tree.reg >= 0)) fail("method", "treelora: reg must not be negative, got ", tree.reg);
  if (tree.mode == TreeLoraMode::Paper) {
    tree.sparsity = options.get_double("sparsity", 0.5);
    tree.lcb_scale = options.get_double("lcb_scale", 2.0);
    if (!(tree.sparsity > 0 && tree.sparsity <= 1))
      fail("method", "treelora: sparsity must be in (0, 1], got ", tree.sparsity);
    if (!(tree.lcb_scale >= 0)) fail("method", "treelora: lcb_scale must not be negative, got ", tree.lcb_scale);
  } else if (options.has("sparsity") || options.has("lcb_scale")) {
    fail("method", "treelora: sparsity and lcb_scale apply to mode = \"paper\" only");
  }
  options.reject_unused("treelora");
  return std::make_unique<TreeLora>(std::move(settings), tree);
}

}  // namespace retain::method
