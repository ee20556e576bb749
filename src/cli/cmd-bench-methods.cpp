// retain bench methods (--model DIR | --init CONFIG) [--methods a,b] [--batch B] [--length L] [--steps N]:
// the per-step cost of each continual-learning method over SeqFT on the same language model and the
// same batch, in one process, with the task-boundary work (OSFT's SVD, InfLoRA's subspaces, EWC's
// Fisher) timed separately. Each method starts from the same weights and runs as on a second task
// (MIGU masking, EWC's penalty and O-LoRA's earlier adapter all active). Each row gives the median
// step, tokens/s and the achieved model FLOP rate (6·N·tokens plus attention, N the weights of every
// matrix product, as for full fine-tuning whatever the method trains), next to the float32 matrix
// product rate measured on the same threads. Also reports OSFT's randomized top-k SVD against the full
// SVD on the model's largest target matrix.
#include <torch/csrc/autograd/profiler_legacy.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "blas.h"
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
  std::vector<std::string> sets;  // KEY=VALUE method options (e.g. rank=16), for every listed method
  std::string profile_dir;        // where one more step per method is profiled, when set
};

// The method options of `--set`: a whole integer or number becomes one, anything else a word.
config::Options method_options(const BenchOptions& o) {
  config::Options options("bench methods --set", "method");
  for (const auto& set : o.sets) {
    const auto equals = set.find('=');
    if (equals == std::string::npos || equals == 0) fail("bench", "--set ", set, ": expected KEY=VALUE");
    const auto key = set.substr(0, equals), text = set.substr(equals + 1);
    char* end = nullptr;
    const long long whole = std::strtoll(text.c_str(), &end, 10);
    if (!text.empty() && *end == '\0') {
      options.set(key, static_cast<int64_t>(whole));
      continue;
    }
    const double number = std::strtod(text.c_str(), &end);
    if (!text.empty() && *end == '\0') {
      options.set(key, number);
    } else {
      options.set(key, text);
    }
  }
  return options;
}

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

// The operators of a profiled step (a Chrome trace from libtorch's profiler) by self time, the time
// spent in each outside the operators it calls: the 12 largest, with their share of the step.
void print_profile(const std::string& path, const std::string& method) {
  std::ifstream in(path);
  const auto events = nlohmann::json::parse(in, nullptr, false);
  if (!events.is_array()) fail("bench", path, ": the profiler wrote no trace");
  struct Span {
    std::string name;
    double start, end;
    std::string thread;
  };
  std::vector<Span> spans;
  for (const auto& e : events) {
    if (e.value("ph", "") != "X") continue;
    const double start = e.at("ts").get<double>();
    spans.push_back({e.at("name").get<std::string>(), start, start + e.at("dur").get<double>(), e.at("tid").dump()});
  }
  // Per thread, by start and then longest first, so that a parent comes before what it calls.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.thread != b.thread ? a.thread < b.thread : a.start != b.start ? a.start < b.start : a.end > b.end;
  });
  std::map<std::string, double> self;
  std::vector<const Span*> open;
  double first = spans.empty() ? 0 : spans.front().start, last = first;
  for (const auto& span : spans) {
    while (!open.empty() && (open.back()->thread != span.thread || open.back()->end <= span.start)) open.pop_back();
    if (!open.empty()) self[open.back()->name] -= span.end - span.start;
    self[span.name] += span.end - span.start;
    open.push_back(&span);
    first = std::min(first, span.start);
    last = std::max(last, span.end);
  }
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [name, micros] : self) ranked.emplace_back(micros, name);
  std::sort(ranked.rbegin(), ranked.rend());
  std::printf("  %s, one profiled step (%.0f ms traced; %s): self time by operator\n", method.c_str(),
              (last - first) / 1e3, path.c_str());
  for (size_t i = 0; i < std::min<size_t>(12, ranked.size()); ++i) {
    std::printf("    %-40s %9.1f ms  %5.1f %%\n", ranked[i].second.c_str(), ranked[i].first / 1e3,
                100 * ranked[i].first / std::max(1.0, last - first));
  }
}

struct Timing {
  double step_seconds = 0, boundary_seconds = 0;  // the median timed step; the task boundary
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const auto n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Floating-point operations of one training step (forward and backward) on `batch`: 6 per weight of
// every matrix product and token, plus the attention scores and their weighted sum,
// 12 · layers · (heads · head_dim) · length per token (PaLM's count; no causal halving).
double step_flops(model::Model& model, const BenchOptions& o) {
  double weights = 0;
  for (const auto& [name, layer] : model.linear_layers()) weights += static_cast<double>(layer->weight.numel());
  const auto& config = model.config();
  const auto layers = static_cast<double>(config.get_int("num_hidden_layers"));
  const auto heads = config.get_int("num_attention_heads");
  const auto head_dim = config.get_int("head_dim", config.get_int("hidden_size") / heads);
  const double tokens = static_cast<double>(o.batch * o.length);
  return tokens * (6 * weights + 12 * layers * static_cast<double>(heads * head_dim) * static_cast<double>(o.length));
}

// The float32 matrix product rate of this process's threads (2048 × 2048, median of 5).
double matmul_flops_per_second() {
  torch::NoGradGuard no_grad;
  const int64_t n = 2048;
  const auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::matmul(a, b);
  std::vector<double> seconds;
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    torch::matmul(a, b);
    seconds.push_back(seconds_since(start));
  }
  return 2.0 * static_cast<double>(n * n * n) / median(seconds);
}

Timing time_method(const std::string& name, const BenchOptions& o) {
  auto model = load(o);
  const auto batch = synthetic_batch(*model, o);
  auto options = method_options(o);
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
  std::vector<double> steps;
  for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
    start = Clock::now();
    train::train_step(
        *model, *method, optimizer, [&](int64_t) { return batch; }, 1, 1e-4, 1.0);
    if (i >= o.warmup) steps.push_back(seconds_since(start));
  }
  timing.step_seconds = median(steps);
  if (!o.profile_dir.empty()) {
    std::filesystem::create_directories(o.profile_dir);
    const auto path = o.profile_dir + "/" + name + ".trace.json";
    {
      torch::autograd::profiler::RecordProfile profile(path);
      train::train_step(
          *model, *method, optimizer, [&](int64_t) { return batch; }, 1, 1e-4, 1.0);
    }
    print_profile(path, name);
  }
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
    const auto exact = method::osft_top_singular(w, k, full, {1});
    const double full_seconds = seconds_since(start);
    start = Clock::now();
    const auto approx = method::osft_top_singular(w, k, randomized, {1});
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
  const auto names = list_options.get_names("methods", "");
  const double flops = step_flops(*load(o), o), matmul_rate = matmul_flops_per_second();
  // Which kernels ran the products: OpenBLAS picks them per CPU, OPENBLAS_CORETYPE overrides it.
  const auto kernels = blas::loaded_core();
  std::printf(
      "%d threads; batch %lld x %lld tokens; median of %lld timed steps after %lld warm-up steps; %.3g FLOP per "
      "step; float32 matmul %.1f GFLOP/s%s\n\n",
      torch::get_num_threads(), static_cast<long long>(o.batch), static_cast<long long>(o.length),
      static_cast<long long>(o.steps), static_cast<long long>(o.warmup), flops, matmul_rate / 1e9,
      kernels.empty() ? "" : ("; OpenBLAS " + kernels + " kernels").c_str());
  std::printf(
      "| method | ms / step | x SeqFT | tokens/s | GFLOP/s | of matmul | task boundary (s) |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n");
  double baseline = 0;  // SeqFT's step, when it is measured first
  for (const auto& name : names) {
    const auto t = time_method(name, o);
    if (name == "seqft" && baseline == 0) baseline = t.step_seconds;
    char ratio[32] = "—";
    if (baseline > 0) std::snprintf(ratio, sizeof ratio, "%.3f", t.step_seconds / baseline);
    std::printf("| %s | %.1f | %s | %.1f | %.2f | %.0f %% | %.3f |\n", name.c_str(), 1e3 * t.step_seconds, ratio,
                static_cast<double>(o.batch * o.length) / t.step_seconds, flops / t.step_seconds / 1e9,
                100 * flops / t.step_seconds / matmul_rate, t.boundary_seconds);
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
  methods->add_option("--methods", o->methods,
                      "comma-separated method names, measured in this order (list seqft first for the x SeqFT column)");
  methods->add_option("--batch", o->batch, "sequences per step")->check(whole_number_at_least(1));
  methods->add_option("--length", o->length, "tokens per sequence")->check(whole_number_at_least(1));
  methods->add_option("--steps", o->steps, "timed steps per method")->check(whole_number_at_least(1));
  methods->add_option("--warmup", o->warmup, "untimed steps first")->check(whole_number_at_least(0));
  methods->add_option("--profile", o->profile_dir,
                      "profile one more step per method into DIR/<method>.trace.json (Chrome trace) and print "
                      "the operators by self time");
  methods->add_option("--set", o->sets, "KEY=VALUE: a [method] option, read by every listed method (e.g. rank=16)");
  run_if_parsed = [o, methods] { return methods->parsed() ? bench_methods(*o) : -1; };
}

}  // namespace retain::cli
