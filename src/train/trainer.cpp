// trainer.cpp - one continual-learning run, read top to bottom in run_stream:
//   set up (read and check everything, plan the stages) → start or resume → for each stage:
//   train it (batch → train/step.h → LR → log / checkpoint) → score its row of R → checkpoint →
//   write the outputs.
//
// Resuming: everything that decides the computation is either stored in the checkpoint (weights,
// optimizer moments, method state, results, the position) or recomputed from the seed (the data
// order of each stage and epoch, train/stages.h), so a resumed run on the CPU gives the same bits
// as one that was never interrupted. A stage resumed in the middle does not call begin_task again:
// methods keep what begin_task computes in their state.
//
// Data-parallel (dist/comm.h): with WORLD_SIZE > 1 every rank runs this same loop over the same
// global batches, trains on its slice of each (dist/data-parallel.h), and the step sums gradients
// over the ranks. Rank 0 alone writes the run folder (log, checkpoints, reports, the model); every
// rank reads the checkpoint on resume, which may use a different number of ranks, because the data
// order and the position in it do not depend on the ranks.
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <variant>

#include "data/probe.h"
#include "data/shuffle.h"
#include "data/task-data.h"
#include "device.h"
#include "dist/data-parallel.h"
#include "dist/zero.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "io/atomic-file.h"
#include "method/method.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "tok/tokenizer.h"
#include "train/batches.h"
#include "train/crash-for-tests.h"
#include "train/evaluator.h"
#include "train/progress.h"
#include "train/prototype-head.h"
#include "train/retention.h"
#include "train/run-checkpoint.h"
#include "train/run-outputs.h"
#include "train/stages.h"
#include "train/step.h"

namespace retain::train {

namespace fs = std::filesystem;

std::string run_dir_of(const config::StreamConfig& config) {
  return (fs::path(config.run.out) / config.run.name).string();
}

namespace {

using Clock = std::chrono::steady_clock;

// [model] dtype: the weights' dtype and the compute dtype (Undefined: the weights').
std::pair<torch::ScalarType, torch::ScalarType> dtypes_of(config::DType dtype, const torch::Device& device) {
  if (dtype == config::DType::Auto) dtype = device.is_cuda() ? config::DType::Mixed : config::DType::Float32;
  switch (dtype) {
    case config::DType::BFloat16: return {torch::kBFloat16, torch::ScalarType::Undefined};
    case config::DType::Mixed: return {torch::kFloat, torch::kBFloat16};
    default: return {torch::kFloat, torch::ScalarType::Undefined};
  }
}

std::shared_ptr<model::Model> model_for(const config::StreamConfig& config, const torch::Device& device) {
  const auto [weights, compute] = dtypes_of(config.model.dtype, device);
  model::LoadOptions options{weights, device};
  auto model = !config.model.path.empty() ? model::model_load(config.model.path, options)
                                          : model::model_init(config.model.init, config.run.seed, options);
  model->set_compute_dtype(compute);
  return model;
}

std::unique_ptr<tok::Tokenizer> tokenizer_for(const config::StreamConfig& config) {
  bool text = !config.eval.probe.empty();
  for (const auto& task : config.tasks) text = text || task.kind != config::TaskKind::ImageClassification;
  if (!text) return nullptr;
  std::string path = config.model.tokenizer;
  if (path.empty()) path = config.model.path;
  if (path.empty()) {
    fail("config", config.source, ": [model] tokenizer is needed for text tasks when the model is built from `init`");
  }
  return tok::Tokenizer::load(path);
}

// What the stream asks of the model that its files cannot give: token ids past its embedding rows,
// generation past its positions, perplexity from an encoder-decoder. Found here, before --force removes anything,
// rather than mid-run. Examples longer than the model's positions are cut to them (train.max_length is lowered, with a
// line saying so: its default, 256, is more than some models have).
void model_limits_apply(config::StreamConfig& config, const model::Model& model, const tok::Tokenizer* tokenizer,
                        bool leader) {
  const auto& model_config = model.config();
  const int64_t vocab = model_config.get_int("vocab_size", 0);
  if (tokenizer != nullptr && vocab > 0 && tokenizer->vocab_size() > vocab) {
    fail("config", config.origin_of("model.tokenizer"), ": the tokenizer ", tokenizer->path(), " has ids up to ",
         tokenizer->vocab_size() - 1, ", past the ", vocab, " embedding rows of ", model_config.path(),
         " (vocab_size)");
  }
  // Perplexity is a decoder-only model's next-token loss over plain text; T5 has no such score.
  if (model.kind() == model::ModelKind::Seq2SeqLM) {
    for (size_t t = 0; t < config.tasks.size(); ++t) {
      if (config.tasks[t].kind != config::TaskKind::Text) continue;
      fail("config", config.origin_of("task." + std::to_string(t + 1) + ".kind"), ": [[task]] '", config.tasks[t].name,
           "' is kind = \"text\", scored by perplexity, which needs a decoder-only model; ", model_config.path(),
           " is encoder-decoder (", model_config.model_type(), "): use generation or text-classification tasks");
    }
    if (!config.eval.general_text.empty()) {
      fail("config", config.origin_of("eval.general_text"), ": [eval] general_text is scored by perplexity, which ",
           "needs a decoder-only model; ", model_config.path(), " is encoder-decoder (", model_config.model_type(),
           ")");
    }
  }
  const int64_t positions = model.max_positions();
  if (positions <= 0) return;
  // Generation keeps at least one prompt token.
  auto too_many_new = [&](const std::string& key, const std::string& origin, int64_t value) {
    if (value >= positions) {
      fail("config", origin, ": ", key, " = ", value, " leaves no room for the prompt in the ", positions,
           " positions of ", model_config.path(), " (at most ", positions - 1, ")");
    }
  };
  too_many_new("[eval] max_new_tokens", config.origin_of("eval.max_new_tokens"), config.eval.max_new_tokens);
  for (size_t t = 0; t < config.tasks.size(); ++t) {
    too_many_new("[[task]] '" + config.tasks[t].name + "' max_new_tokens",
                 config.origin_of("task." + std::to_string(t + 1) + ".max_new_tokens"), config.tasks[t].max_new_tokens);
  }
  if (config.train.max_length > positions) {
    if (leader) {
      std::fprintf(stderr,
                   "[train] max_length %lld is more than the %lld positions of %s: examples are cut to %lld tokens\n",
                   static_cast<long long>(config.train.max_length), static_cast<long long>(positions),
                   model_config.path().c_str(), static_cast<long long>(positions));
    }
    config.train.max_length = positions;
  }
}

// The stream's method. Its own checks of its options ("[method] ewc: lambda must not be negative")
// name no file; the error gets the --set that set an option it names, else the stream file.
std::unique_ptr<method::Method> method_from(config::StreamConfig& config) {
  try {
    return method::method_create(config.method);
  } catch (const Error& e) {
    const std::string what = e.what(), component = "[method] ";
    if (what.rfind(component, 0) != 0) throw;
    const std::string* origin = &config.source;
    for (const auto& [key, set] : config.overrides) {
      const bool named = key == "method.name"
                             ? what.find("unknown method") != std::string::npos
                             : key.rfind("method.", 0) == 0 && what.find(key.substr(7)) != std::string::npos;
      if (named) origin = &set;
    }
    throw Error(component + *origin + ": [method] " + what.substr(component.size()));
  }
}

// [eval] general_text: documents whose perplexity before and after the stream shows drift.
std::vector<data::TextExample> general_text_for(const config::StreamConfig& config) {
  if (config.eval.general_text.empty()) return {};
  config::TaskConfig text_task;
  text_task.name = "general_text";
  text_task.kind = config::TaskKind::Text;
  text_task.train = config.eval.general_text;
  text_task.metric = "perplexity";
  return data::task_data_load(text_task, config.run.seed).train.text;
}

// The classes an image task's predictions may take after stage `upto`: every class seen so far
// and the task's own (class-incremental evaluation, no task id).
std::vector<int64_t> allowed_classes(const std::vector<data::TaskData>& stream, int64_t upto, int64_t task) {
  std::vector<int64_t> classes;
  for (int64_t t = 0; t < static_cast<int64_t>(stream.size()); ++t) {
    if (t > upto && t != task) continue;
    for (auto c : stream[t].config.classes) {
      if (std::find(classes.begin(), classes.end(), c) == classes.end()) classes.push_back(c);
    }
  }
  return classes;
}

// [num_labels]: 0 on the classes of the tasks `examples` come from, -inf elsewhere (a per-task
// head's training logits; replayed or joint examples bring their own tasks' classes).
torch::Tensor own_classes_bias(model::Model& model, const std::vector<data::TaskData>& stream,
                               const std::vector<method::ExampleRef>& examples) {
  if (model.kind() != model::ModelKind::ImageClassifier) return {};
  const auto labels = model.linear_layer(model.head_layer())->options().out_features;
  auto bias = torch::full({labels}, -std::numeric_limits<float>::infinity());
  std::vector<bool> seen(stream.size(), false);
  for (const auto& ref : examples) {
    if (seen[ref.task]) continue;
    seen[ref.task] = true;
    const auto& task = stream[ref.task].config;
    if (task.classes.empty()) return {};  // a task of every class: nothing to restrict
    for (auto c : task.classes) {
      if (c < 0 || c >= labels)
        fail("run", "task '", task.name, "': class ", c, " is outside the model's ", labels, " labels");
      bias[c] = 0;
    }
  }
  return bias;
}

// The settings a report shows beside the numbers.
nlohmann::json settings_json(const config::StreamConfig& config) {
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [key, value] : config.method.options.values()) {
    std::visit([&, &key = key](const auto& v) { options[key] = v; }, value);
  }
  const auto& t = config.train;
  return {{"run", {{"name", config.run.name}, {"seed", config.run.seed}, {"device", config.run.device}}},
          {"model",
           {{"path", config.model.path},
            {"init", config.model.init},
            {"dtype", std::string(config::word_of(config.model.dtype))}}},
          {"method", {{"name", config.method.name}, {"options", options}}},
          {"train",
           {{"epochs", t.epochs},
            {"max_steps", t.max_steps},
            {"batch_size", t.batch_size},
            {"grad_accum", t.grad_accum},
            {"effective_batch", t.batch_size * t.grad_accum},
            {"lr", t.lr},
            {"weight_decay", t.weight_decay},
            {"schedule", std::string(config::word_of(t.schedule))},
            {"warmup_ratio", t.warmup_ratio},
            {"clip_norm", t.clip_norm},
            {"max_length", t.max_length},
            {"head", std::string(config::word_of(t.head))}}}};
}

// Scores as a JSON list, null where nothing was measured.
nlohmann::json scores_json(const std::vector<std::optional<double>>& scores) {
  auto list = nlohmann::json::array();
  for (const auto& score : scores) list.push_back(score ? nlohmann::json(*score) : nlohmann::json(nullptr));
  return list;
}

// A run about to start: R all null, and what the report shows beside it.
eval::RunResult results_new(const std::vector<data::TaskData>& stream, const config::StreamConfig& config) {
  std::vector<std::string> names, metrics;
  for (const auto& task : stream) {
    names.push_back(task.config.name);
    metrics.push_back(task.config.metric);
  }
  auto results = eval::run_result_new(names, metrics);
  for (const auto& task : stream) {
    results.test_sizes.push_back(task.test.size());
    results.class_incremental = results.class_incremental || task.config.kind == config::TaskKind::ImageClassification;
  }
  results.task_seconds.assign(stream.size(), 0.0);
  results.settings = settings_json(config);
  return results;
}

// Everything a run reads, builds and checks before it trains or writes anything; a mistake in the
// stream fails here, before the run folder is touched.
struct Run {
  Run(config::StreamConfig stream_config, const RunOptions& options);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  int64_t T() const { return static_cast<int64_t>(stream.size()); }
  // Only rank 0 writes files.
  void checkpoint(const RunCheckpoint& state) const {
    if (leader) run_checkpoint_write(dir, state);
  }
  void report(const eval::RunResult& results) const {
    if (leader) eval::report_write(results, dir);
  }

  config::StreamConfig config;
  const config::TrainConfig& train;
  const std::string dir;
  torch::Device device;
  std::unique_ptr<dist::Comm> comm;
  bool leader = true;
  std::vector<data::TaskData> stream;
  std::shared_ptr<model::Model> model;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<method::Method> method;
  std::unique_ptr<StreamExamples> examples;
  std::vector<int64_t> train_sizes;
  std::vector<data::TextExample> general;
  std::vector<data::ProbeItem> probe;  // [eval] probe
  std::unique_ptr<Retention> retention;
  std::vector<Stage> stages;
  std::unique_ptr<Evaluator> evaluator;
  PrototypeHead prototypes;
  std::unique_ptr<Progress> progress;  // made once the position in the run is known
};

Run::Run(config::StreamConfig stream_config, const RunOptions& options)
    : config(std::move(stream_config)),
      train(config.train),
      dir(run_dir_of(config)),
      device(device::parse(config.run.device)) {
  comm = dist::comm_create(dist::launch_env(), device);
  leader = comm->leader();
  const bool occupied = fs::exists(dir) && !fs::is_empty(dir);
  const bool has_checkpoint = occupied && run_checkpoint_exists(dir);
  if (leader && !options.resume && occupied && !options.force) {
    if (!has_checkpoint) {
      fail("run", dir, ": the run folder already has files but no checkpoint (a run that stopped before its first ",
           "one?); start over with --force");
    }
    fail("run", dir, ": the run folder already has files; continue it with --resume ", dir,
         ", or start over with --force");
  }
  if (options.resume && !has_checkpoint) {
    fail("run", dir, ": no checkpoint to resume from (the run stopped before its first one?); start it over with ",
         "--force");
  }
  stream = data::stream_data_load(config);
  model = model_for(config, device);
  tokenizer = tokenizer_for(config);
  model_limits_apply(config, *model, tokenizer.get(), leader);
  method = method_from(config);
  method->attach(*model);
  dist::broadcast_model(*comm, *model);
  run_outputs_check(config, *model, *method);
  examples = std::make_unique<StreamExamples>(stream, *model, tokenizer.get(), train.max_length);
  // Images of another size than the model's are resized (bilinear) when batched: said once per task.
  if (leader && model->kind() == model::ModelKind::ImageClassifier) {
    const auto size = model->config().get_int("image_size");
    for (const auto& task : stream) {
      const auto& images = task.train.images;
      if (images.rows != size || images.cols != size) {
        std::fprintf(stderr,
                     "[train] task '%s': its %lldx%lld images are resized to the model's %lldx%lld (bilinear)\n",
                     task.config.name.c_str(), static_cast<long long>(images.rows), static_cast<long long>(images.cols),
                     static_cast<long long>(size), static_cast<long long>(size));
      }
    }
  }
  train_sizes = examples->train_sizes();
  general = general_text_for(config);
  if (!config.eval.probe.empty()) {
    if (model->kind() == model::ModelKind::ImageClassifier) {
      fail("config", config.origin_of("eval.probe"), ": [eval] probe asks a language model; ", model->config().path(),
           " is an image classifier");
    }
    probe = data::probe_read(config.eval.probe);
  }
  retention = Retention::create(config, *model, dir, device);
  std::vector<std::string> names;
  for (const auto& task : stream) names.push_back(task.config.name);
  stages = plan_stages(train, *method, names, train_sizes,
                       config.origin_of(train.max_steps > 0 ? "train.max_steps" : "train.epochs"));

  evaluator = std::make_unique<Evaluator>(
      *model, tokenizer.get(), EvalOptions{config.eval.batch_size, config.eval.max_new_tokens, train.max_length},
      device, comm.get());
  if (train.head == config::Head::Prototype) {
    evaluator->use_prototypes(&prototypes);
    method->use_prototype_head([this] { return prototypes.normalised(); });
  }

  if (leader) {
    if (!options.resume) {
      if (occupied) fs::remove_all(dir);
      fs::create_directories(dir);
    }
    // Written on resume too: --set may have changed a setting (a lower lr after a diverged step).
    io::write_file_atomic((fs::path(dir) / "config.toml").string(), config::stream_config_to_toml(config));
  }
  comm->barrier("the run folder");
}

// "probe before the stream: 61.5 % right".
std::string probe_said(const char* when, double accuracy) {
  std::ostringstream say;
  say.precision(4);
  say << "probe " << when << ": " << accuracy << " % right";
  return say.str();
}

// A fresh run: the base model scored first (forward transfer, general text, [retention]), then the
// first checkpoint.
RunCheckpoint start(Run& run) {
  RunCheckpoint state;
  state.results = results_new(run.stream, run.config);
  const auto steps = total_steps(run.stages);
  run.progress = std::make_unique<Progress>((fs::path(run.dir) / "log.jsonl").string(), steps, 0, run.train.log_every,
                                            !run.leader);
  const auto& comm = *run.comm;
  const auto ranks = comm.distributed() ? ", " + std::to_string(comm.size()) + " ranks (" + comm.backend() + ")" : "";
  run.progress->event("start",
                      {{"tasks", run.T()},
                       {"steps", steps},
                       {"method", run.method->name()},
                       {"ranks", comm.size()},
                       {"backend", comm.backend()}},
                      "run " + run.dir + ": " + std::to_string(run.T()) + " tasks, " + std::to_string(steps) +
                          " steps, method " + run.method->name() + ranks);
  if (run.config.eval.forward_transfer) {
    for (int64_t t = 0; t < run.T(); ++t) {
      // Over the same classes as R[t-1][t] (those of tasks 0..t), so that FWT compares like with like.
      state.results.base[t] = run.evaluator->score(run.stream[t], allowed_classes(run.stream, t - 1, t)).score;
    }
    run.progress->event("eval", {{"row", "base"}, {"scores", scores_json(state.results.base)}});
  }
  if (!run.general.empty()) {
    state.results.general_ppl_before =
        run.evaluator->perplexity(run.general, run.config.eval.general_max_tokens, run.config.eval.general_text);
  }
  if (!run.probe.empty()) {
    state.results.probe_before = run.evaluator->probe_accuracy(run.probe, run.config.eval.probe);
    run.progress->event("eval", {{"row", "base"}, {"probe", *state.results.probe_before}},
                        probe_said("before the stream", *state.results.probe_before));
  }
  if (run.retention) run.retention->measure_before(*run.evaluator, run.leader, state.results, *run.progress);
  state.model = model::model_state(*run.model);
  state.method = run.method->state();
  state.head = run.prototypes.state();
  run.checkpoint(state);
  return state;
}

// A run continued from its checkpoint `state` (run_stream read it).
RunCheckpoint resume(Run& run, RunCheckpoint state) {
  const auto stages = static_cast<int64_t>(run.stages.size());
  // The position must be one this run can be at: a task boundary of the stream (its end included) or a
  // step inside a task, and only a finished run's checkpoint holds no weights.
  const auto where = run.dir + "/checkpoint/state.json";
  if (state.stage < 0 || state.stage > stages) {
    fail("checkpoint", where, ": \"stage\" is ", state.stage, ", but this stream has ", stages, " tasks (0 to ", stages,
         "); start the run over with --force");
  }
  const int64_t last_step = state.stage < stages ? run.stages[state.stage].steps - 1 : 0;
  if (state.step < 0 || state.step > last_step) {
    fail("checkpoint", where, ": \"step\" is ", state.step, ", but task ", state.stage + 1, " has steps 0 to ",
         last_step, " here; start the run over with --force");
  }
  if (state.model.empty() && state.stage < stages) {
    fail("checkpoint", run.dir, "/checkpoint/model.safetensors: no weights, but the run stopped at task ",
         state.stage + 1, " of ", stages, "; start the run over with --force");
  }
  // A finished run keeps no weights in its checkpoint: its model is in RUN/model.
  if (!state.model.empty()) {
    model::model_load_state(*run.model, state.model, run.dir + "/checkpoint/model.safetensors");
    run.method->load_state(state.method);
  }
  run.prototypes.load_state(state.head);
  if (run.retention) run.retention->resume();
  // --set may have changed a setting the report shows.
  state.results.settings = settings_json(run.config);
  int64_t done_steps = state.step;
  for (int64_t s = 0; s < std::min(state.stage, stages); ++s) done_steps += run.stages[s].steps;
  run.progress = std::make_unique<Progress>((fs::path(run.dir) / "log.jsonl").string(), total_steps(run.stages),
                                            done_steps, run.train.log_every, !run.leader);
  run.progress->event("resume", {{"stage", state.stage}, {"step", state.step}},
                      "resuming " + run.dir + " at task " + std::to_string(std::min(state.stage + 1, stages)) +
                          ", step " + std::to_string(state.step));
  return state;
}

// Stage `s` from the position in `state` to its end: begin_task (unless resumed mid-stage), the
// optimizer steps with their mid-task checkpoints, end_task.
void train_stage(Run& run, int64_t s, RunCheckpoint& state, CrashForTests& crash) {
  const auto& stage = run.stages[s];
  const auto& train = run.train;
  auto& model = *run.model;
  auto& method = *run.method;
  auto& comm = *run.comm;
  method::TaskContext context;
  context.index = stage.task;
  context.count = run.T();
  context.name = run.stream[stage.task].config.name;
  context.seed = run.config.run.seed;
  context.steps = stage.steps;
  context.lr = train.lr;
  context.epochs = train.max_steps > 0 ? 1 : train.epochs;
  context.for_each_batch = [&](const std::function<void(const model::Batch&)>& visit, int64_t limit) {
    const auto n = run.train_sizes[stage.task];
    int64_t visited = 0;
    for (int64_t begin = 0; begin < n && (limit <= 0 || visited < limit); begin += train.batch_size, ++visited) {
      std::vector<method::ExampleRef> refs;
      for (int64_t i = begin; i < std::min(n, begin + train.batch_size); ++i) refs.push_back({stage.task, i});
      visit(run.examples->batch(refs, run.device));
    }
  };
  const bool fresh = state.step == 0;
  if (fresh) method.begin_task(model, context);
  optim::AdamW optimizer(method.trainable(model, train.weight_decay), {train.beta1, train.beta2, train.eps});
  const bool zero = train.zero == 1 && comm.distributed();
  if (zero) {
    dist::zero_shard(comm, optimizer);
    const auto [here, all] = dist::zero_moment_bytes(optimizer, comm.rank());
    std::ostringstream say;
    say << "ZeRO-1: rank 0 of " << comm.size() << " keeps " << std::fixed << std::setprecision(1) << here / 1e6
        << " MB of the " << all / 1e6 << " MB of AdamW moments";
    run.progress->event("zero", {{"task", stage.name}, {"moment_bytes_rank0", here}, {"moment_bytes_all", all}},
                        say.str());
  }
  // Mid-stage, or from the previous stage for a method that keeps one optimizer for the stream.
  if (!state.optimizer.empty()) optimizer.load_state(state.optimizer, run.dir + "/checkpoint/optimizer.safetensors");
  const auto warmup = static_cast<int64_t>(std::llround(train.warmup_ratio * static_cast<double>(stage.steps)));
  run.progress->event(
      "task_start", {{"task", stage.name}, {"stage", s}, {"steps", stage.steps}, {"examples", stage.examples.size()}});
  const auto task_start = Clock::now();
  const double seconds_before = state.results.task_seconds[stage.task];
  const auto seconds_now = [&] {
    return seconds_before + std::chrono::duration<double>(Clock::now() - task_start).count();
  };
  model.train();
  StageBatches batches(stage, s, train.batch_size, run.config.run.seed);
  // Per-task and prototype heads train only the classes of the stage's tasks.
  const auto logit_bias =
      train.head == config::Head::Linear ? torch::Tensor() : own_classes_bias(model, run.stream, stage.examples);

  for (int64_t step = state.step; step < stage.steps; ++step) {
    const double lr = optim::lr_at(step, stage.steps, warmup, train.schedule, train.lr);
    // LoRA dropout draws from the global generator, seeded per step and rank so that a resumed run
    // draws the masks the uninterrupted one drew.
    torch::manual_seed(data::derive_seed(run.config.run.seed, "step " + std::to_string(s) + "/" + std::to_string(step) +
                                                                  " rank " + std::to_string(comm.rank())));
    const auto result = train_step(
        model, method, optimizer,
        [&](int64_t a) {
          auto refs = batches.micro_batch(step * train.grad_accum + a);
          const auto [begin, end] = dist::shard_range(static_cast<int64_t>(refs.size()), comm.rank(), comm.size());
          if (begin == end) return model::Batch{};
          auto batch = run.examples->batch(std::vector<method::ExampleRef>(refs.begin() + begin, refs.begin() + end),
                                           run.device);
          batch.logit_bias = logit_bias;
          return batch;
        },
        train.grad_accum, lr, train.clip_norm,
        [&](double value) {
          if (std::isfinite(value)) return;
          run.progress->event("nan", {{"task", stage.name}, {"step", step + 1}, {"loss", std::to_string(value)}});
          fail("train", "task '", stage.name, "' step ", step + 1, ": the loss is ", value,
               "; stopped. The last good checkpoint is ", run.dir, "/checkpoint (task ", state.stage + 1, ", step ",
               state.step, "); lower train.lr or train.clip_norm and --resume");
        },
        &comm);
    run.progress->step({stage.name, s, static_cast<int64_t>(run.stages.size()), step + 1, stage.steps, result.loss, lr,
                        result.grad_norm, result.tokens,
                        run.stream[stage.task].config.kind == config::TaskKind::ImageClassification});
    crash.after_step();
    if (train.checkpoint_every > 0 && (step + 1) % train.checkpoint_every == 0 && step + 1 < stage.steps) {
      state.stage = s;
      state.step = step + 1;
      state.results.task_seconds[stage.task] = seconds_now();
      state.model = model::model_state(model);
      state.optimizer = zero ? dist::zero_gather_state(comm, optimizer) : optimizer.state();
      state.method = method.state();
      state.head = run.prototypes.state();
      run.checkpoint(state);
    }
  }
  if (method.keeps_optimizer()) state.optimizer = zero ? dist::zero_gather_state(comm, optimizer) : optimizer.state();
  method.end_task(model, context);
  if (train.head == config::Head::Prototype) run.prototypes.add_classes(model, context.for_each_batch);
  dist::check_same_weights(comm, model, "after task '" + stage.name + "'");
  state.results.task_seconds[stage.task] = seconds_now();
}

// Row `stage.task` of R: every task trained so far, and the next one for forward transfer.
void evaluate_row(Run& run, const Stage& stage, eval::RunResult& results) {
  const auto row = stage.task;
  for (int64_t i = 0; i < run.T(); ++i) {
    const bool seen = i <= row;
    const bool next = i == row + 1 && run.config.eval.forward_transfer;
    if (!seen && !next) continue;
    const auto score = run.evaluator->score(run.stream[i], allowed_classes(run.stream, row, i));
    results.R[row][i] = score.score;
    run.progress->event("eval", {{"after", stage.name},
                                 {"task", run.stream[i].config.name},
                                 {"score", score.score},
                                 {"examples", score.examples},
                                 {"samples", score.samples}});
  }
  std::ostringstream say;
  say.precision(4);
  say << "after " << stage.name << ":";
  for (int64_t i = 0; i <= std::min(row, run.T() - 1); ++i)
    say << " " << run.stream[i].config.name << "=" << *results.R[row][i];
  run.progress->event("row", {{"after", stage.name}, {"R", scores_json(results.R[row])}}, say.str());
}

// After stage `s` and its row: the numbers measured once at the end of the stream, the report, and a
// checkpoint at the start of the next stage.
void finish_stage(Run& run, int64_t s, RunCheckpoint& state) {
  const auto& stage = run.stages[s];
  state.results.peak_memory_bytes = device::memory_stats(run.device).peak_bytes;
  state.stage = s + 1;
  state.step = 0;
  state.model = model::model_state(*run.model);
  if (!run.method->keeps_optimizer()) state.optimizer.clear();
  state.method = run.method->state();
  // What the method decided in the task (Selective LoRA's open blocks, OSFT's ranks, TreeLoRA's tree).
  if (!state.method.meta.empty()) run.progress->event("method", {{"after", stage.name}, {"state", state.method.meta}});
  state.head = run.prototypes.state();
  if (state.stage == static_cast<int64_t>(run.stages.size())) {
    if (!run.general.empty()) {
      state.results.general_ppl_after =
          run.evaluator->perplexity(run.general, run.config.eval.general_max_tokens, run.config.eval.general_text);
    }
    if (!run.probe.empty()) {
      state.results.probe_after = run.evaluator->probe_accuracy(run.probe, run.config.eval.probe);
      run.progress->event("eval", {{"after", stage.name}, {"probe", *state.results.probe_after}},
                          probe_said("after the stream", *state.results.probe_after));
    }
    if (run.retention) run.retention->measure_after(*run.evaluator, state.results, *run.progress);
  }
  run.report(state.results);
  run.checkpoint(state);
}

// The model ([model] save) and the final report; then the checkpoint drops its weights and keeps only
// the finished position.
void finish_run(Run& run, RunCheckpoint& state) {
  if (run.leader && !state.model.empty()) {
    run_outputs_write(run.config, *run.model, run.dir);
    state.model.clear();
    state.method = {};
    run.checkpoint(state);
  }
  run.report(state.results);
  run.progress->event("done", {{"run", run.dir}}, "done: " + run.dir + "/report.md");
}

}  // namespace

std::string run_stream(config::StreamConfig config, const RunOptions& options) {
  // A finished run's checkpoint keeps its results and no weights: nothing to resume, and nothing in the
  // folder is touched. The checkpoint is read once, here (model and optimizer can be gigabytes).
  std::optional<RunCheckpoint> checkpoint;
  if (options.resume) {
    const auto dir = run_dir_of(config);
    checkpoint = run_checkpoint_read(dir);
    if (checkpoint && checkpoint->model.empty() &&
        eval::completed_tasks(checkpoint->results) == static_cast<int64_t>(checkpoint->results.tasks.size())) {
      std::fprintf(stderr, "[run] %s finished all its %zu tasks: nothing to resume\n", dir.c_str(),
                   checkpoint->results.tasks.size());
      return dir;
    }
  }
  Run run(std::move(config), options);  // with --resume, refuses a folder without a checkpoint
  RunCheckpoint state = options.resume ? resume(run, std::move(*checkpoint)) : start(run);
  CrashForTests crash(run.comm->rank());
  for (int64_t s = state.stage; s < static_cast<int64_t>(run.stages.size()); ++s) {
    train_stage(run, s, state, crash);
    evaluate_row(run, run.stages[s], state.results);
    finish_stage(run, s, state);
  }
  finish_run(run, state);
  return run.dir;
}

}  // namespace retain::train
