// trainer.cpp - the training loop of DESIGN.md §5, read top to bottom:
//   batch → one optimizer step (train/step.h: forward, penalty, backward, method hooks, clip, AdamW) → LR → log / checkpoint
// Task boundaries call begin_task / end_task; after every task the evaluator writes that row of R.
//
// Resuming: everything that decides the computation is either stored in the checkpoint (weights,
// optimizer moments, method state, results, the position) or recomputed from the seed (the data
// order of each stage and epoch), so a resumed run on the CPU gives the same bits as one that was
// never interrupted. A stage resumed in the middle does not call begin_task again: methods keep
// what begin_task computes in their state.
//
// Data-parallel (dist/comm.h): with WORLD_SIZE > 1 every rank runs this same loop over the same
// global batches, trains on its slice of each (dist/data-parallel.h), and the step sums gradients
// over the ranks. Rank 0 alone writes the run folder (log, checkpoints, reports, the model); every
// rank reads the checkpoint on resume, which may use a different number of ranks, because the data
// order and the position in it do not depend on the ranks.
#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <optional>
#include <sstream>
#include <variant>

#include "data/shuffle.h"
#include "data/task-data.h"
#include "device.h"
#include "dist/data-parallel.h"
#include "dist/zero.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "io/atomic-file.h"
#include "io/gguf-quants.h"
#include "io/safetensors.h"
#include "method/method.h"
#include "model/adapter.h"
#include "model/checkpoint.h"
#include "model/gguf-model.h"
#include "model/init.h"
#include "tok/tokenizer.h"
#include "train/adamw.h"
#include "train/batches.h"
#include "train/evaluator.h"
#include "train/progress.h"
#include "train/prototype-head.h"
#include "train/run-checkpoint.h"
#include "train/schedule.h"
#include "train/step.h"

namespace retain::train {

namespace fs = std::filesystem;

std::string run_dir_of(const config::StreamConfig& config) {
  return (fs::path(config.run.out) / config.run.name).string();
}

namespace {

using Clock = std::chrono::steady_clock;

// A training stage: one task (or every task at once for joint training) and its examples.
struct Stage {
  std::string name;
  int64_t task = 0;  // the task whose row of R this stage fills
  std::vector<method::ExampleRef> examples;
  int64_t steps = 0;
  int64_t micro_per_epoch = 0;
};

// A permutation of 0..n-1 from (seed, stage, epoch), the same on every machine (data/shuffle.h).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t stage, int64_t epoch) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  data::seeded_shuffle(order, data::derive_seed(seed, "stage " + std::to_string(stage) + " epoch " + std::to_string(epoch)));
  return order;
}

// The refs of micro-batch `micro` of a stage: epochs follow each other, each in its own order
// (kept in `order` for `order_epoch`, so an epoch is shuffled once).
std::vector<method::ExampleRef> micro_batch(const Stage& stage, int64_t micro, int64_t batch_size, uint64_t seed,
                                            int64_t stage_index, std::vector<int64_t>& order, int64_t& order_epoch) {
  const auto n = static_cast<int64_t>(stage.examples.size());
  const auto epoch = micro / stage.micro_per_epoch;
  const auto begin = (micro % stage.micro_per_epoch) * batch_size;
  if (epoch != order_epoch) {
    order = epoch_order(n, seed, stage_index, epoch);
    order_epoch = epoch;
  }
  std::vector<method::ExampleRef> refs;
  for (int64_t i = begin; i < std::min(n, begin + batch_size); ++i) refs.push_back(stage.examples[order[i]]);
  return refs;
}

torch::ScalarType dtype_of(const std::string& name, const torch::Device& device) {
  if (name == "float32") return torch::kFloat;
  if (name == "bfloat16") return torch::kBFloat16;
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat;
}

std::shared_ptr<model::Model> model_for(const config::StreamConfig& config, const torch::Device& device) {
  model::LoadOptions options{dtype_of(config.model.dtype, device), device};
  if (!config.model.path.empty()) return model::model_load(config.model.path, options);
  return model::model_init(config.model.init, config.run.seed, options);
}

std::unique_ptr<tok::Tokenizer> tokenizer_for(const config::StreamConfig& config) {
  bool text = false;
  for (const auto& task : config.tasks) text = text || task.kind != "image-classification";
  if (!text) return nullptr;
  std::string path = config.model.tokenizer;
  if (path.empty()) path = config.model.path;
  if (path.empty()) {
    fail("config", config.source, ": [model] tokenizer is needed for text tasks when the model is built from `init`");
  }
  return tok::Tokenizer::load(path);
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
  const auto labels = model.linear_layer("classifier")->options().out_features;
  auto bias = torch::full({labels}, -std::numeric_limits<float>::infinity());
  std::vector<bool> seen(stream.size(), false);
  for (const auto& ref : examples) {
    if (seen[ref.task]) continue;
    seen[ref.task] = true;
    const auto& task = stream[ref.task].config;
    if (task.classes.empty()) return {};  // a task of every class: nothing to restrict
    for (auto c : task.classes) {
      if (c < 0 || c >= labels) fail("run", "task '", task.name, "': class ", c, " is outside the model's ", labels, " labels");
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
          {"model", {{"path", config.model.path}, {"init", config.model.init}, {"dtype", config.model.dtype}}},
          {"method", {{"name", config.method.name}, {"options", options}}},
          {"train", {{"epochs", t.epochs}, {"max_steps", t.max_steps}, {"batch_size", t.batch_size},
                     {"grad_accum", t.grad_accum}, {"effective_batch", t.batch_size * t.grad_accum}, {"lr", t.lr},
                     {"weight_decay", t.weight_decay}, {"schedule", t.schedule}, {"warmup_ratio", t.warmup_ratio},
                     {"clip_norm", t.clip_norm}, {"max_length", t.max_length}, {"head", t.head}}}};
}

// The names of the LoRA adapters the method attached, in first-seen order.
std::vector<std::string> adapter_names(model::Model& model) {
  std::vector<std::string> names;
  for (auto& [layer_name, layer] : model.linear_layers()) {
    for (const auto& adapter : layer->adapters()) {
      if (std::find(names.begin(), names.end(), adapter.name) == names.end()) names.push_back(adapter.name);
    }
  }
  return names;
}

nlohmann::json null_row(size_t n) { return nlohmann::json(std::vector<std::nullptr_t>(n, nullptr)); }

eval::RunResult result_of(const nlohmann::json& results, const std::vector<data::TaskData>& stream,
                          const config::StreamConfig& config) {
  eval::RunResult r;
  for (const auto& task : stream) {
    r.tasks.push_back(task.config.name);
    r.metric_names.push_back(task.config.metric);
    r.test_sizes.push_back(task.test.size());
    r.class_incremental = r.class_incremental || task.config.kind == "image-classification";
  }
  auto optional = [](const nlohmann::json& v) -> std::optional<double> {
    return v.is_null() ? std::nullopt : std::optional<double>(v.get<double>());
  };
  for (const auto& row : results.at("R")) {
    r.R.emplace_back();
    for (const auto& v : row) r.R.back().push_back(optional(v));
  }
  for (const auto& v : results.at("base")) r.base.push_back(optional(v));
  if (results.contains("general_ppl_before")) r.general_ppl_before = optional(results["general_ppl_before"]);
  if (results.contains("general_ppl_after")) r.general_ppl_after = optional(results["general_ppl_after"]);
  if (results.contains("retention_before")) r.retention_before = optional(results["retention_before"]);
  if (results.contains("retention_after")) r.retention_after = optional(results["retention_after"]);
  r.task_seconds = results.at("task_seconds").get<std::vector<double>>();
  r.peak_memory_bytes = results.value("peak_memory_bytes", int64_t{0});
  r.settings = settings_json(config);
  return r;
}

}  // namespace

std::string run_stream(config::StreamConfig config, const RunOptions& options) {
  const auto run_dir = run_dir_of(config);
  auto device = device::parse(config.run.device);
  const auto comm = dist::comm_create(dist::launch_env(), device);
  const bool leader = comm->leader();
  const bool occupied = fs::exists(run_dir) && !fs::is_empty(run_dir);
  if (leader && !options.resume && occupied && !options.force) {
    fail("run", run_dir, ": the run folder already has files; continue it with --resume ", run_dir,
         ", or start over with --force");
  }

  // Everything is read and checked before anything is trained or written.
  const auto stream = data::stream_data_load(config);
  auto model_ptr = model_for(config, device);
  auto& model = *model_ptr;
  const auto tokenizer = tokenizer_for(config);
  auto method = method::method_create(config.method);
  method->attach(model);
  dist::broadcast_model(*comm, model);
  if (config.model.save == "gguf") {
    const auto type = model.config().model_type();
    if (type != "llama" && type != "mistral" && type != "qwen2" && type != "qwen3") {
      fail("config", config.source, ": [model] save = \"gguf\" writes llama, mistral, qwen2 and qwen3 models, not '", type, "'");
    }
    if (config.model.tokenizer.empty() && config.model.path.empty()) {
      fail("config", config.source, ": [model] save = \"gguf\" needs a tokenizer for the file ([model] tokenizer)");
    }
  }
  if (config.model.save == "adapters" && !method->trains_adapters()) {
    fail("config", config.source, ": [model] save = \"adapters\", but method '", method->name(), "' trains no adapters");
  }
  if (config.model.save == "adapters" && model.kind() == model::ModelKind::ImageClassifier) {
    fail("config", config.source, ": [model] save = \"adapters\": an image classifier's head trains beside the adapters "
         "and a PEFT adapter folder does not hold it; use save = \"full\"");
  }
  StreamExamples examples(stream, model, tokenizer.get(), config.train.max_length);
  const auto train_sizes = examples.train_sizes();
  std::vector<data::TextExample> general;
  if (!config.eval.general_text.empty()) {
    config::TaskConfig text_task;
    text_task.name = "general_text";
    text_task.kind = "text";
    text_task.train = config.eval.general_text;
    text_task.metric = "perplexity";
    general = data::task_data_load(text_task, config.run.seed).train.text;
  }
  std::optional<data::TaskData> retention;
  if (config.retention) {
    if (model.kind() != model::ModelKind::ImageClassifier) {
      fail("config", config.source, ": [retention] scores an image classifier's features; this model is not one");
    }
    const auto labels = model.linear_layer("classifier")->options().out_features;
    for (int64_t label : config.retention->classes) {
      if (label >= labels) fail("config", config.source, ": [retention] classes: label ", label, " is past the model's ", labels, " labels");
    }
    retention = data::task_data_load(*config.retention, config.run.seed);
  }
  if (leader) {
    if (!options.resume) {
      if (occupied) fs::remove_all(run_dir);
      fs::create_directories(run_dir);
    }
    // Written on resume too: --set may have changed a setting (a lower lr after a diverged step).
    io::write_file_atomic((fs::path(run_dir) / "config.toml").string(), config::stream_config_to_toml(config));
  }
  comm->barrier("the run folder");
  // Only rank 0 writes files.
  const auto checkpoint_write = [&](const RunCheckpoint& checkpoint) {
    if (leader) run_checkpoint_write(run_dir, checkpoint);
  };

  // The stages and their lengths.
  const auto& train = config.train;
  std::vector<Stage> stages;
  const auto T = static_cast<int64_t>(stream.size());
  if (method->trains_jointly()) {
    Stage all{"joint", T - 1, {}, 0, 0};
    for (int64_t t = 0; t < T; ++t) {
      auto refs = method->training_examples(t, train_sizes);
      all.examples.insert(all.examples.end(), refs.begin(), refs.end());
    }
    stages.push_back(std::move(all));
  } else {
    for (int64_t t = 0; t < T; ++t) stages.push_back({stream[t].config.name, t, method->training_examples(t, train_sizes), 0, 0});
  }
  int64_t total_steps = 0;
  for (auto& stage : stages) {
    const auto n = static_cast<int64_t>(stage.examples.size());
    if (n == 0) fail("run", "task '", stage.name, "' has no training examples");
    stage.micro_per_epoch = (n + train.batch_size - 1) / train.batch_size;
    stage.steps = train.max_steps > 0 ? train.max_steps
                                      : std::max<int64_t>(1, train.epochs * stage.micro_per_epoch / train.grad_accum);
    total_steps += stage.steps;
  }

  Evaluator evaluator(model, tokenizer.get(), {config.eval.batch_size, config.eval.max_new_tokens, train.max_length},
                      device, comm.get());
  PrototypeHead prototypes;
  if (train.head == "prototype") evaluator.use_prototypes(&prototypes);
  // [retention]: the pretraining task's class means under the starting model, kept in the run folder
  // so that a resumed run scores against the same ones.
  const auto retention_file = (fs::path(run_dir) / "retention.safetensors").string();
  PrototypeHead retention_means;
  const auto retention_score = [&] {
    evaluator.use_prototypes(&retention_means);
    const double score = evaluator.score(*retention, retention->config.classes).score;
    evaluator.use_prototypes(train.head == "prototype" ? &prototypes : nullptr);
    return score;
  };
  const auto log_path = (fs::path(run_dir) / "log.jsonl").string();

  // Where the run starts: a checkpoint, or the base model (scored first, for forward transfer).
  RunCheckpoint state;
  int64_t done_steps = 0;
  if (options.resume) {
    auto checkpoint = run_checkpoint_read(run_dir);
    if (!checkpoint) fail("run", run_dir, ": no checkpoint to resume from");
    state = std::move(*checkpoint);
    // A finished run keeps no weights in its checkpoint: its model is in RUN/model.
    if (!state.model.empty()) {
      model::model_load_state(model, state.model, run_dir + "/checkpoint/model.safetensors");
      method->load_state(state.method);
    }
    prototypes.load_state(state.head);
    if (retention) {
      if (!fs::exists(retention_file)) fail("run", retention_file, ": missing; the [retention] class means of the run are gone");
      retention_means.load_state(io::safetensors_load(retention_file).tensors);
    }
    for (int64_t s = 0; s < std::min<int64_t>(state.stage, stages.size()); ++s) done_steps += stages[s].steps;
    done_steps += state.step;
  }
  Progress progress(log_path, total_steps, done_steps, train.log_every, !leader);
  if (options.resume) {
    progress.event("resume", {{"stage", state.stage}, {"step", state.step}},
                   "resuming " + run_dir + " at task " + std::to_string(std::min<int64_t>(state.stage + 1, stages.size())) +
                       ", step " + std::to_string(state.step));
  } else {
    state.results = {{"R", std::vector<nlohmann::json>(T, null_row(T))},
                     {"base", null_row(T)},
                     {"task_seconds", std::vector<double>(T, 0.0)}};
    const auto ranks = comm->distributed() ? ", " + std::to_string(comm->size()) + " ranks (" + comm->backend() + ")" : "";
    progress.event("start", {{"tasks", T}, {"steps", total_steps}, {"method", method->name()},
                             {"ranks", comm->size()}, {"backend", comm->backend()}},
                   "run " + run_dir + ": " + std::to_string(T) + " tasks, " + std::to_string(total_steps) +
                       " steps, method " + method->name() + ranks);
    if (config.eval.forward_transfer) {
      for (int64_t t = 0; t < T; ++t) {
        // Over the same classes as R[t-1][t] (those of tasks 0..t), so that FWT compares like with like.
        const auto score = evaluator.score(stream[t], allowed_classes(stream, t - 1, t));
        state.results["base"][t] = score.score;
      }
      progress.event("eval", {{"row", "base"}, {"scores", state.results["base"]}});
    }
    if (!general.empty()) state.results["general_ppl_before"] = evaluator.perplexity(general, config.eval.general_max_tokens);
    if (retention) {
      retention_means.add_classes(model, [&](const std::function<void(const model::Batch&)>& visit, int64_t) {
        const auto& images = retention->train.images;
        for (int64_t begin = 0; begin < images.size(); begin += config.eval.batch_size) {
          std::vector<ImageRef> items;
          for (int64_t i = begin; i < std::min(images.size(), begin + config.eval.batch_size); ++i) items.push_back({&images, i});
          auto batch = image_batch(items, model.config().get_int("num_channels", 3), model.config().get_int("image_size"));
          batch.pixel_values = batch.pixel_values.to(device);
          visit(batch);
        }
      });
      if (leader) {
        io::safetensors_save(retention_file + ".tmp", retention_means.state(), {});
        fs::rename(retention_file + ".tmp", retention_file);
      }
      state.results["retention_before"] = retention_score();
      progress.event("retention", {{"task", retention->config.name}, {"before", state.results["retention_before"]}});
    }
    state.model = model::model_state(model);
    state.method = method->state();
    state.head = prototypes.state();
    checkpoint_write(state);
  }

  // Tests: die like kill -9 after N steps (only rank RETAIN_CRASH_RANK when it is set).
  const char* crash_env = std::getenv("RETAIN_CRASH_AFTER_STEPS");
  const char* crash_rank = std::getenv("RETAIN_CRASH_RANK");
  const bool crashes = crash_rank == nullptr || std::atoll(crash_rank) == comm->rank();
  const int64_t crash_after = crash_env != nullptr && crashes ? std::atoll(crash_env) : -1;
  int64_t session_steps = 0;

  for (int64_t s = state.stage; s < static_cast<int64_t>(stages.size()); ++s) {
    const auto& stage = stages[s];
    const auto& task_data = stream[stage.task];
    method::TaskContext context;
    context.index = stage.task;
    context.count = T;
    context.seed = config.run.seed;
    context.data = &task_data;
    context.steps = stage.steps;
    context.epochs = train.max_steps > 0 ? 1 : train.epochs;
    context.head = train.head;
    context.prototypes = prototypes.normalised();
    context.for_each_batch = [&](const std::function<void(const model::Batch&)>& visit, int64_t limit) {
      const auto n = train_sizes[stage.task];
      int64_t visited = 0;
      for (int64_t begin = 0; begin < n && (limit <= 0 || visited < limit); begin += train.batch_size, ++visited) {
        std::vector<method::ExampleRef> refs;
        for (int64_t i = begin; i < std::min(n, begin + train.batch_size); ++i) refs.push_back({stage.task, i});
        visit(examples.batch(refs, device));
      }
    };
    const bool fresh = state.step == 0;
    if (fresh) method->begin_task(model, context);
    AdamW optimizer(method->trainable(model, train.weight_decay), {train.beta1, train.beta2, train.eps});
    const bool zero = train.zero == 1 && comm->distributed();
    if (zero) {
      dist::zero_shard(*comm, optimizer);
      const auto [here, all] = dist::zero_moment_bytes(optimizer, comm->rank());
      std::ostringstream say;
      say << "ZeRO-1: rank 0 of " << comm->size() << " keeps " << std::fixed << std::setprecision(1) << here / 1e6
          << " MB of the " << all / 1e6 << " MB of AdamW moments";
      progress.event("zero", {{"task", stage.name}, {"moment_bytes_rank0", here}, {"moment_bytes_all", all}}, say.str());
    }
    if (!fresh) optimizer.load_state(state.optimizer, run_dir + "/checkpoint/optimizer.safetensors");
    const auto warmup = static_cast<int64_t>(std::llround(train.warmup_ratio * static_cast<double>(stage.steps)));
    progress.event("task_start", {{"task", stage.name}, {"stage", s}, {"steps", stage.steps}, {"examples", stage.examples.size()}});
    const auto task_start = Clock::now();
    const double seconds_before = state.results["task_seconds"][stage.task].get<double>();
    model.train();
    std::vector<int64_t> order;
    int64_t order_epoch = -1;
    // Per-task and prototype heads train only the classes of the stage's tasks.
    const auto logit_bias = train.head == "linear" ? torch::Tensor() : own_classes_bias(model, stream, stage.examples);

    for (int64_t step = state.step; step < stage.steps; ++step) {
      const double lr = lr_at(step, stage.steps, warmup, train.schedule, train.lr);
      const auto result = train_step(
          model, *method, optimizer,
          [&](int64_t a) {
            auto refs = micro_batch(stage, step * train.grad_accum + a, train.batch_size, config.run.seed, s, order,
                                    order_epoch);
            const auto [begin, end] = dist::shard_range(static_cast<int64_t>(refs.size()), comm->rank(), comm->size());
            if (begin == end) return model::Batch{};
            auto batch = examples.batch(std::vector<method::ExampleRef>(refs.begin() + begin, refs.begin() + end), device);
            batch.logit_bias = logit_bias;
            return batch;
          },
          train.grad_accum, lr, train.clip_norm,
          [&](double value) {
            if (std::isfinite(value)) return;
            progress.event("nan", {{"task", stage.name}, {"step", step + 1}, {"loss", std::to_string(value)}});
            fail("train", "task '", stage.name, "' step ", step + 1, ": the loss is ", value,
                 "; stopped. The last good checkpoint is ", run_dir, "/checkpoint (task ", state.stage + 1, ", step ",
                 state.step, "); lower train.lr or train.clip_norm and --resume");
          },
          comm.get());
      progress.step({stage.name, s, static_cast<int64_t>(stages.size()), step + 1, stage.steps, result.loss, lr,
                     result.grad_norm, result.tokens});
      ++session_steps;
      if (crash_after >= 0 && session_steps == crash_after) std::_Exit(137);
      if (train.checkpoint_every > 0 && (step + 1) % train.checkpoint_every == 0 && step + 1 < stage.steps) {
        state.stage = s;
        state.step = step + 1;
        state.results["task_seconds"][stage.task] =
            seconds_before + std::chrono::duration<double>(Clock::now() - task_start).count();
        state.model = model::model_state(model);
        state.optimizer = zero ? dist::zero_gather_state(*comm, optimizer) : optimizer.state();
        state.method = method->state();
        state.head = prototypes.state();
        checkpoint_write(state);
      }
    }
    method->end_task(model, context);
    if (train.head == "prototype") prototypes.add_classes(model, context.for_each_batch);
    dist::check_same_weights(*comm, model, "after task '" + stage.name + "'");
    state.results["task_seconds"][stage.task] =
        seconds_before + std::chrono::duration<double>(Clock::now() - task_start).count();

    // Row `stage.task` of R: every task trained so far, and the next one for forward transfer.
    const auto row = stage.task;
    for (int64_t i = 0; i < T; ++i) {
      const bool seen = i <= row;
      const bool next = i == row + 1 && config.eval.forward_transfer;
      if (!seen && !next) continue;
      const auto score = evaluator.score(stream[i], allowed_classes(stream, row, i));
      state.results["R"][row][i] = score.score;
      progress.event("eval", {{"after", stage.name}, {"task", stream[i].config.name}, {"score", score.score},
                              {"examples", score.examples}, {"samples", score.samples}});
    }
    std::ostringstream say;
    say.precision(4);
    say << "after " << stage.name << ":";
    for (int64_t i = 0; i <= std::min(row, T - 1); ++i) say << " " << stream[i].config.name << "=" << state.results["R"][row][i].get<double>();
    progress.event("row", {{"after", stage.name}, {"R", state.results["R"][row]}}, say.str());
    const auto stats = device::memory_stats(device);
    state.results["peak_memory_bytes"] = stats.peak_bytes;
    state.stage = s + 1;
    state.step = 0;
    state.model = model::model_state(model);
    state.optimizer.clear();
    state.method = method->state();
    // What the method decided in the task (Selective LoRA's open blocks, OSFT's ranks, TreeLoRA's tree).
    if (!state.method.meta.empty()) progress.event("method", {{"after", stage.name}, {"state", state.method.meta}});
    state.head = prototypes.state();
    if (state.stage == static_cast<int64_t>(stages.size()) && !general.empty()) {
      state.results["general_ppl_after"] = evaluator.perplexity(general, config.eval.general_max_tokens);
    }
    if (state.stage == static_cast<int64_t>(stages.size()) && retention) {
      state.results["retention_after"] = retention_score();
      progress.event("retention", {{"task", retention->config.name}, {"after", state.results["retention_after"]}});
    }
    if (leader) eval::report_write(result_of(state.results, stream, config), run_dir);
    checkpoint_write(state);
  }

  // The outputs: the model as a Hugging Face folder (written beside, then renamed into place) and the
  // report; then the checkpoint drops its weights and keeps only the finished position.
  if (leader && !state.model.empty()) {
    const auto adapters = adapter_names(model);
    if (config.model.save == "gguf") {
      // As for "full": the adapters folded in, then one file llama.cpp loads.
      for (const auto& name : adapters) model::adapter_merge(model, name);
      model::GgufSaveOptions save;
      save.type = *io::ggml_type_from_name(config.model.gguf_type);
      save.tokenizer_source = config.model.tokenizer;
      model::gguf_model_save(model, (fs::path(run_dir) / "model.gguf").string(), save);
    }
    if (config.model.save == "full") {
      // A full model has the adapters folded in, so transformers loads what was evaluated.
      for (const auto& name : adapters) model::adapter_merge(model, name);
      const auto final_dir = fs::path(run_dir) / "model", tmp_dir = fs::path(run_dir) / "model.tmp";
      fs::remove_all(tmp_dir);
      model::model_save(model, tmp_dir.string());
      // A model built from `init` gets the run's tokenizer.json, so the folder is complete for transformers.
      const auto tokenizer_file = fs::path(config.model.tokenizer);
      if (tokenizer_file.extension() == ".json" && tokenizer_file.filename() != "encoder.json" &&
          !fs::exists(tmp_dir / "tokenizer.json")) {
        fs::copy_file(tokenizer_file, tmp_dir / "tokenizer.json");
      }
      fs::remove_all(final_dir);
      fs::rename(tmp_dir, final_dir);
    }
    if (config.model.save == "adapters") {
      for (const auto& name : adapters) model::adapter_save(model, (fs::path(run_dir) / "adapters" / name).string(), name);
    }
    state.model.clear();
    state.method = {};
    checkpoint_write(state);
  }
  if (leader) eval::report_write(result_of(state.results, stream, config), run_dir);
  progress.event("done", {{"run", run_dir}}, "done: " + run_dir + "/report.md");
  return run_dir;
}

}  // namespace retain::train
