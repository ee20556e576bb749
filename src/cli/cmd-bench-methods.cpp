// retain bench methods (--model DIR | --init CONFIG) [--methods a,b] [--batch B] [--length L] [--steps N]:
// the per-step cost of each continual-learning method over SeqFT on the same language model and the
// same batch, in one process, with the task-boundary work (OSFT's SVD, InfLoRA's subspaces, EWC's
// Fisher) timed separately. Each method starts from the same weights and runs as on a second task
// (MIGU masking, EWC's penalty and O-LoRA's earlier adapter all active). Also reports OSFT's
// randomized top-k SVD against the full SVD on the model's largest target matrix.
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "config/options.h"
#include "data/task-data.h"
#include "error.h"
#include "method/osft.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "train/step.h"

namespace retain::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct BenchOptions {
  std::string model_dir, init_config, methods = "seqft,migu,osft,seqlora,o-lora,inflora,ewc";
  int64_t batch = 8, length = 128, steps = 10, warmup = 2;
};

std::shared_ptr<model::Model> load(const BenchOptions& o) {
  return o.model_dir.empty() ? model::model_init(o.init_config, 0) : model::model_load(o.model_dir);
}

model::Batch synthetic_batch(const model::Model& model, const BenchOptions& o) {
  if (model.kind() == model::ModelKind::ImageClassifier)
    fail("bench", "bench methods measures language models; got an image classifier");
  const auto vocab = model.config().get_int("vocab_size");
  torch::manual_seed(0);
  model::Batch batch;
  batch.input_ids = torch::randint(vocab, {o.batch, o.length}, torch::kLong);
  batch.attention_mask = torch::ones({o.batch, o.length}, torch::kLong);
  batch.labels = batch.input_ids.clone();
  return batch;
}

struct Timing {
  double step_seconds = 0, boundary_seconds = 0;
};

Timing time_method(const std::string& name, const BenchOptions& o) {
  auto model = load(o);
  const auto batch = synthetic_batch(*model, o);
  config::Options options("bench", "method");
  auto method = method::method_create(name, options);
  method->attach(*model);
  auto context = [&](int64_t index) {
    method::TaskContext c;
    c.index = index;
    c.count = 2;
    c.name = "task" + std::to_string(index);
    c.for_each_batch = [&](const std::function<void(const model::Batch&)>& visit, int64_t) { visit(batch); };
    return c;
  };
  model->train();
  method->begin_task(*model, context(0));
  {
    optim::AdamW optimizer(method->trainable(*model, 0.0), {});
    train::train_step(
        *model, *method, optimizer, [&](int64_t) { return batch; }, 1, 1e-4, 1.0);
  }
  Timing timing;
  auto start = Clock::now();
  method->end_task(*model, context(0));
  method->begin_task(*model, context(1));
  timing.boundary_seconds = seconds_since(start);
  optim::AdamW optimizer(method->trainable(*model, 0.01), {});
  for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
    if (i == o.warmup) start = Clock::now();
    train::train_step(
        *model, *method, optimizer, [&](int64_t) { return batch; }, 1, 1e-4, 1.0);
  }
  timing.step_seconds = seconds_since(start) / static_cast<double>(o.steps);
  return timing;
}

// Full against randomized top-k SVD of the largest matrix OSFT decomposes.
void compare_svd(const BenchOptions& o) {
  auto model = load(o);
  nn::Linear largest{nullptr};
  std::string largest_name;
  for (auto& [name, layer] : model->linear_layers()) {
    if (model->is_head(name, layer)) continue;
    if (!largest || layer->weight.numel() > largest->weight.numel()) largest = layer, largest_name = name;
  }
  if (!largest) return;
  const auto w = largest->weight_out_in().detach();
  const auto R = std::min(w.size(0), w.size(1));
  std::printf("\nOSFT top-k SVD of %s [%lld x %lld], randomized (oversample 8, 2 power iterations) vs full:\n",
              largest_name.c_str(), static_cast<long long>(w.size(0)), static_cast<long long>(w.size(1)));
  std::printf(
      "| k | full (s) | randomized (s) | max rel. error of s | ||P - P'||_F / sqrt(k) |\n|---:|---:|---:|---:|---:|\n");
  // OSFT's default k (unfreeze_rank_ratio 0.25) and a small k, where a randomized SVD pays off.
  for (const auto k : {std::max<int64_t>(1, 3 * R / 4), std::max<int64_t>(1, R / 16)}) {
    method::OsftSettings full, randomized;
    randomized.svd = method::OsftSvd::Randomized;
    auto start = Clock::now();
    const auto exact = method::osft_top_singular(w, k, full, 1);
    const double full_seconds = seconds_since(start);
    start = Clock::now();
    const auto approx = method::osft_top_singular(w, k, randomized, 1);
    const double randomized_seconds = seconds_since(start);
    const double s_error = ((approx.s - exact.s).abs() / exact.s).max().item<double>();
    const double subspace =
        (torch::matmul(approx.U, approx.U.t()) - torch::matmul(exact.U, exact.U.t())).norm().item<double>() /
        std::sqrt(static_cast<double>(k));
    std::printf("| %lld | %.3f | %.3f | %.2e | %.2e |\n", static_cast<long long>(k), full_seconds, randomized_seconds,
                s_error, subspace);
  }
}

int bench_methods(const BenchOptions& o) {
  if (o.model_dir.empty() == o.init_config.empty())
    fail("bench", "bench methods needs one of --model DIR or --init CONFIG");
  config::Options list_options("bench", "bench");
  list_options.set("methods", o.methods);
  auto names = list_options.get_names("methods", "");
  if (names.empty() || names.front() != "seqft") names.insert(names.begin(), "seqft");
  std::printf("%d threads; batch %lld x %lld tokens; %lld timed steps after %lld warm-up steps\n\n",
              torch::get_num_threads(), static_cast<long long>(o.batch), static_cast<long long>(o.length),
              static_cast<long long>(o.steps), static_cast<long long>(o.warmup));
  std::printf("| method | ms / step | x SeqFT | task boundary (s) |\n|---|---:|---:|---:|\n");
  double baseline = 0;
  for (const auto& name : names) {
    const auto t = time_method(name, o);
    if (name == "seqft") baseline = t.step_seconds;
    std::printf("| %s | %.1f | %.3f | %.3f |\n", name.c_str(), 1e3 * t.step_seconds, t.step_seconds / baseline,
                t.boundary_seconds);
    std::fflush(stdout);
  }
  compare_svd(o);
  return 0;
}

}  // namespace

void add_bench_methods(CLI::App& bench, std::function<int()>& run_if_parsed) {
  auto o = std::make_shared<BenchOptions>();
  auto* methods =
      bench.add_subcommand("methods", "per-step overhead of each method over SeqFT on one model, in one process");
  methods->add_option("--model", o->model_dir, "a Hugging Face model folder");
  methods->add_option("--init", o->init_config, "a config.json to build a freshly initialised model from");
  methods->add_option("--methods", o->methods, "comma-separated method names (SeqFT is always measured first)");
  methods->add_option("--batch", o->batch, "sequences per step")->check(CLI::PositiveNumber);
  methods->add_option("--length", o->length, "tokens per sequence")->check(CLI::PositiveNumber);
  methods->add_option("--steps", o->steps, "timed steps per method")->check(CLI::PositiveNumber);
  methods->add_option("--warmup", o->warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  run_if_parsed = [o, methods] { return methods->parsed() ? bench_methods(*o) : -1; };
}

}  // namespace retain::cli
