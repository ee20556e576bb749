// The training loop: AdamW against torch's, the LR schedules, a run killed (as by kill -9) and
// resumed ending bit for bit where an uninterrupted run ends, a diverging run stopping with a
// named error, and a text stream end to end on a decoder with a real tokenizer and on T5 with its Unigram one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "config/stream-config.h"
#include "data/idx.h"
#include "data/probe.h"
#include "eval/run-result.h"
#include "io/peft.h"
#include "io/safetensors.h"
#include "method/baselines.h"
#include "model/checkpoint.h"
#include "model/init.h"
#include "optim/adamw.h"
#include "optim/schedule.h"
#include "streams.h"
#include "test-support.h"
#include "tok/tokenizer.h"
#include "train/batches.h"
#include "train/evaluator.h"
#include "train/progress.h"
#include "train/prototype-head.h"
#include "train/run-checkpoint.h"
#include "train/trainer.h"

namespace fs = std::filesystem;
using namespace retain;
using namespace retain::test;

namespace {

// Every step of our AdamW equals torch::optim::AdamW's (same formula): a small parameter, one large
// enough for the one-pass update to be split over threads, and a transposed (not contiguous) one,
// which takes the per-operator update.
TEST(AdamW, MatchesTorchAdamW) {
  torch::manual_seed(1);
  std::vector<torch::Tensor> ours_params, theirs_params, starts;
  for (const auto& start : {torch::randn({5, 4}), torch::randn({3, 40000}), torch::randn({6, 7}).t()}) {
    ours_params.push_back(start.clone().requires_grad_());
    theirs_params.push_back(start.clone().requires_grad_());
    starts.push_back(start.clone());
  }
  ASSERT_FALSE(ours_params[2].is_contiguous());
  optim::AdamW ours({{{"small", "large", "transposed"}, ours_params, 0.1, 1}}, {0.9, 0.95, 1e-8});
  torch::optim::AdamW theirs(theirs_params,
                             torch::optim::AdamWOptions(3e-3).betas({0.9, 0.95}).eps(1e-8).weight_decay(0.1));
  for (int step = 0; step < 20; ++step) {
    for (size_t i = 0; i < starts.size(); ++i) {
      const auto target = torch::randn(starts[i].sizes());
      (ours_params[i] - target).pow(2).sum().backward();
      (theirs_params[i] - target).pow(2).sum().backward();
    }
    ours.step(3e-3);
    theirs.step();
    ours.zero_grad();
    theirs.zero_grad();
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    EXPECT_LE((ours_params[i] - theirs_params[i]).abs().max().item<double>(), 1e-6) << i;
    // both moved: not two optimizers that do nothing
    EXPECT_GT((ours_params[i] - starts[i]).abs().max().item<double>(), 1e-2) << i;
  }
}

// The optimizer state saved and loaded continues exactly as if never interrupted.
TEST(AdamW, StateRoundTripIsExact) {
  torch::manual_seed(2);
  auto w = torch::randn({3, 3}).requires_grad_();
  auto v = w.detach().clone().requires_grad_();
  optim::AdamW first({{{"w"}, {w}, 0.01, 1}}, {});
  optim::AdamW second({{{"w"}, {v}, 0.01, 1}}, {});
  auto grads = std::vector<torch::Tensor>{torch::randn({3, 3}), torch::randn({3, 3}), torch::randn({3, 3})};
  for (int i = 0; i < 2; ++i) {
    w.mutable_grad() = grads[i].clone();
    v.mutable_grad() = grads[i].clone();
    first.step(1e-2);
    second.step(1e-2);
  }
  optim::AdamW resumed({{{"w"}, {v}, 0.01, 1}}, {});
  resumed.load_state(second.state(), "test");
  w.mutable_grad() = grads[2].clone();
  v.mutable_grad() = grads[2].clone();
  first.step(1e-2);
  resumed.step(1e-2);
  EXPECT_TRUE(torch::equal(w, v));
}

// An optimizer state with an entry renamed, or one of a parameter's three entries missing, is refused
// by name (before: the renamed parameter restarted its moments and the run ended with other weights).
TEST(AdamW, RenamedOrIncompleteStateIsRefused) {
  auto w = torch::randn({3, 3}).requires_grad_();
  optim::AdamW adamw({{{"w"}, {w}, 0.01, 1}}, {});
  w.mutable_grad() = torch::randn({3, 3});
  adamw.step(1e-2);
  auto renamed = adamw.state();
  renamed["step.v"] = renamed.at("step.w");
  renamed.erase("step.w");
  test::expect_error_with([&] { adamw.load_state(renamed, "opt.safetensors"); }, "[checkpoint] opt.safetensors",
                          {"'step.v'", "not the state of a parameter"});
  auto incomplete = adamw.state();
  incomplete.erase("exp_avg_sq.w");
  test::expect_error_with([&] { adamw.load_state(incomplete, "opt.safetensors"); }, "[checkpoint] opt.safetensors",
                          {"no 'exp_avg_sq.w'"});
  EXPECT_EQ(error_of([&] { adamw.load_state(adamw.state(), "opt.safetensors"); }), "");
}

// A plain-SGD group steps by lr·lr_scale·g, keeps no state and is left out of the gradient clip.
TEST(AdamW, SgdGroupsStepPlainlyAndAreNotClipped) {
  auto w = torch::zeros({2}).requires_grad_();
  auto s = torch::zeros({2}).requires_grad_();
  optim::ParamGroup adam{{"w"}, {w}, 0, 1}, sgd{{"s"}, {s}, 0, 0.5};
  sgd.sgd = true;
  std::vector<optim::ParamGroup> groups{adam, sgd};
  optim::AdamW optimizer(groups, {});
  w.mutable_grad() = torch::tensor({3.0f, 4.0f});
  s.mutable_grad() = torch::tensor({30.0f, 40.0f});
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm(groups, 1.0), 5.0);
  EXPECT_TRUE(torch::equal(s.grad(), torch::tensor({30.0f, 40.0f})));
  optimizer.step(0.1);
  EXPECT_TRUE(torch::allclose(s, torch::tensor({-1.5f, -2.0f})));
  EXPECT_EQ(optimizer.state().count("exp_avg.s"), 0u);
  EXPECT_EQ(optimizer.state().count("exp_avg.w"), 1u);
}

TEST(Clip, ScalesToTheMaxNormAndReportsTheNormBefore) {
  auto p = torch::zeros({2}).requires_grad_();
  p.mutable_grad() = torch::tensor({3.0f, 4.0f});
  const double norm = optim::clip_grad_norm({{{"p"}, {p}, 0, 1}}, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(p.grad().norm().item<double>(), 1.0, 1e-5);
}

TEST(Schedule, WarmupThenConstantOrCosine) {
  EXPECT_DOUBLE_EQ(optim::lr_at(0, 100, 10, config::Schedule::Cosine, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(optim::lr_at(5, 100, 10, config::Schedule::Cosine, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(optim::lr_at(10, 100, 10, config::Schedule::Cosine, 1.0), 1.0);
  EXPECT_NEAR(optim::lr_at(55, 100, 10, config::Schedule::Cosine, 1.0), 0.5, 1e-12);  // half way through the decay
  EXPECT_NEAR(optim::lr_at(100, 100, 10, config::Schedule::Cosine, 1.0), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(optim::lr_at(80, 100, 10, config::Schedule::Constant, 2.0), 2.0);
}

TEST(Replay, MixesAFixedFractionOfEveryEarlierTask) {
  method::Replay replay(0.25);
  const auto refs = replay.training_examples(2, {8, 4, 10});
  ASSERT_EQ(refs.size(), 10u + 2u + 1u);
  EXPECT_EQ(refs[10].task, 0);
  EXPECT_EQ(refs[11].index, 1);
  EXPECT_EQ(refs[12].task, 1);
  EXPECT_EQ(refs[12].index, 0);
}

// Killed after k optimizer steps (std::_Exit, as abrupt as kill -9) and resumed, a run ends with the
// same weights and the same accuracy matrix as one never interrupted, bit for bit. Killing at
// several points covers mid-task (between checkpoints), right after a checkpoint, and a later task.
TEST(Resume, KilledRunsResumeBitForBit) {
  const auto dir = scratch_dir("train-resume");
  const auto stream = image_stream(dir, "replay");
  const auto out = " --set run.out=" + quoted(dir + "/runs");
  ASSERT_EQ(run_command(retain_binary() + " run " + quoted(stream) + out + " --set run.name=whole"), 0);
  const auto whole = dir + "/runs/whole";
  const auto reference = io::safetensors_load(whole + "/model/model.safetensors").tensors;
  const auto reference_matrix = eval::run_result_read(whole + "/matrix.json");
  ASSERT_EQ(reference_matrix.R.size(), 2u);
  ASSERT_TRUE(reference_matrix.R[1][0].has_value());

  for (int kill_after : {5, 6, 20}) {
    SCOPED_TRACE("killed after " + std::to_string(kill_after) + " steps");
    const auto name = "killed" + std::to_string(kill_after);
    const auto run_dir = dir + "/runs/" + name;
    const int crashed = run_command("RETAIN_CRASH_AFTER_STEPS=" + std::to_string(kill_after) + " " + retain_binary() +
                                    " run " + quoted(stream) + out + " --set run.name=" + name);
    EXPECT_EQ(crashed, 137);
    EXPECT_FALSE(fs::exists(run_dir + "/model"));
    ASSERT_EQ(run_command(retain_binary() + " run --resume " + quoted(run_dir)), 0);
    const auto resumed = io::safetensors_load(run_dir + "/model/model.safetensors").tensors;
    ASSERT_EQ(resumed.size(), reference.size());
    for (const auto& [key, tensor] : reference) {
      EXPECT_TRUE(torch::equal(tensor, resumed.at(key))) << key;
    }
    const auto matrix = eval::run_result_read(run_dir + "/matrix.json");
    EXPECT_EQ(matrix.R, reference_matrix.R);
    EXPECT_EQ(matrix.base, reference_matrix.base);
  }
}

// A checkpoint whose position is not one of the run's (a stage outside the stream, a step outside its
// task, a mid-stream position without weights) is refused by name before anything is loaded or
// written; the untouched checkpoint then resumes.
TEST(Resume, CheckpointPositionsOutsideTheRunAreRefused) {
  const auto dir = scratch_dir("train-resume-position");
  const auto stream = image_stream(dir, "seqft");
  const auto run_dir = dir + "/runs/killed";
  ASSERT_EQ(run_command("RETAIN_CRASH_AFTER_STEPS=5 " + retain_binary() + " run " + quoted(stream) +
                        " --set run.out=" + quoted(dir + "/runs") + " --set run.name=killed"),
            137);
  const auto state_path = run_dir + "/checkpoint/state.json";
  const auto original = nlohmann::json::parse(std::ifstream(state_path));
  ASSERT_EQ(original.at("stage"), 0);
  auto resume = [&] {
    auto config = config::stream_config_load(run_dir + "/config.toml");
    config.run.out = dir + "/runs";
    config.run.name = "killed";
    train::RunOptions options;
    options.resume = true;
    train::run_stream(config, options);
  };
  // stage, step, what the error says
  const std::vector<std::tuple<int64_t, int64_t, std::string>> cases = {
      {7, 0, "\"stage\" is 7, but this stream has 2 tasks"},
      {-1, 0, "\"stage\" is -1"},
      {0, -5, "\"step\" is -5"},
      {0, 500, "\"step\" is 500, but task 1 has steps 0 to "},
      {2, 3, "\"step\" is 3"}};  // the end of the stream is step 0
  for (const auto& [stage, step, expected] : cases) {
    SCOPED_TRACE("stage " + std::to_string(stage) + ", step " + std::to_string(step));
    auto edited = original;
    edited["stage"] = stage;
    edited["step"] = step;
    std::ofstream(state_path) << edited.dump();
    const auto message = error_of(resume);
    EXPECT_NE(message.find("[checkpoint] " + state_path + ": " + expected), std::string::npos) << message;
    EXPECT_FALSE(fs::exists(run_dir + "/model"));
  }
  std::ofstream(state_path) << original.dump();
  EXPECT_NO_THROW(resume());
  EXPECT_TRUE(fs::exists(run_dir + "/model/model.safetensors"));
}

// The "method" events of a run's log.jsonl: what the method decided after each task.
std::vector<nlohmann::json> method_events(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream log(run_dir + "/log.jsonl");
  for (std::string line; std::getline(log, line);) {
    auto event = nlohmann::json::parse(line);
    if (event.value("event", "") == "method") out.push_back(event);
  }
  return out;
}

// Every method's state survives a checkpoint: killed at the first step of the second task (resumed
// from the task-boundary checkpoint) or in its middle (resumed without begin_task), a run ends bit
// for bit where the uninterrupted one ends. `method` is a --set list: the name, then its options.
class MethodResume : public ::testing::TestWithParam<std::string> {};

std::string method_resume_name(const ::testing::TestParamInfo<std::string>& info) {
  return param_name(::testing::TestParamInfo<std::string>(info.param.substr(info.param.find('=') + 1), 0));
}

TEST_P(MethodResume, KilledRunsResumeBitForBit) {
  const auto sets = GetParam();
  const auto dir = scratch_dir("train-resume-" + method_resume_name({sets, 0}));
  const auto stream = image_stream(dir, "seqft");
  const auto common = " --set run.out=" + quoted(dir + "/runs") + " " + sets;
  ASSERT_EQ(run_command(retain_binary() + " run " + quoted(stream) + common + " --set run.name=whole"), 0);
  const auto reference = io::safetensors_load(dir + "/runs/whole/model/model.safetensors").tensors;
  const auto reference_matrix = eval::run_result_read(dir + "/runs/whole/matrix.json");
  for (int kill_after : {17, 20}) {
    SCOPED_TRACE("killed after " + std::to_string(kill_after) + " steps");
    const auto name = "killed" + std::to_string(kill_after);
    const auto run_dir = dir + "/runs/" + name;
    EXPECT_EQ(run_command("RETAIN_CRASH_AFTER_STEPS=" + std::to_string(kill_after) + " " + retain_binary() + " run " +
                          quoted(stream) + common + " --set run.name=" + name),
              137);
    ASSERT_EQ(run_command(retain_binary() + " run --resume " + quoted(run_dir)), 0);
    const auto resumed = io::safetensors_load(run_dir + "/model/model.safetensors").tensors;
    ASSERT_EQ(resumed.size(), reference.size());
    for (const auto& [key, tensor] : reference) EXPECT_TRUE(torch::equal(tensor, resumed.at(key))) << key;
    EXPECT_EQ(eval::run_result_read(run_dir + "/matrix.json").R, reference_matrix.R);
    // The decisions logged after the last task are the uninterrupted run's.
    const auto logged = method_events(run_dir), whole = method_events(dir + "/runs/whole");
    ASSERT_EQ(logged.empty(), whole.empty());
    if (!whole.empty()) {
      EXPECT_EQ(logged.back()["state"], whole.back()["state"]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Methods, MethodResume,
    ::testing::Values("--set method.name=osft", "--set method.name=osft --set method.rank=adaptive",
                      "--set method.name=osft --set method.form=factors", "--set method.name=migu",
                      "--set method.name=seqlora", "--set method.name=o-lora",
                      "--set method.name=inflora --set method.rank=2", "--set method.name=ewc",
                      "--set method.name=migu --set method.on=o-lora",
                      "--set method.name=seqlora --set train.head=prototype",
                      "--set method.name=replay --set method.fraction=0.5 --set train.head=per-task",
                      "--set method.name=lora-minus --set train.head=prototype --set method.rank=2",
                      "--set method.name=selective-lora --set method.warmup_ratio=0.25 --set method.sparsity=20",
                      "--set method.name=treelora --set train.head=per-task",
                      "--set method.name=treelora --set method.mode=reference"),
    method_resume_name);

// After each task the log keeps what the method decided: Selective LoRA's fraction of open blocks,
// one more per task, some closed by the sparsity penalty (the scores start just above τ).
// TreeLoRA's reference mode keeps one AdamW for the stream, as its code does: killed one step into
// the second of two 16-step tasks, the task-boundary checkpoint holds moments that have taken 16
// steps. With keep_optimizer = false (paper mode's default) the boundary starts a fresh AdamW.
TEST(Run, TreeLoraReferenceKeepsOneOptimizerForTheStream) {
  const auto dir = scratch_dir("train-keep-optimizer");
  const auto stream = image_stream(dir, "treelora");
  for (const bool keep : {true, false}) {
    SCOPED_TRACE(keep ? "reference mode" : "keep_optimizer = false");
    const auto name = keep ? std::string("kept") : std::string("fresh");
    EXPECT_EQ(run_command("RETAIN_CRASH_AFTER_STEPS=17 " + retain_binary() + " run " + quoted(stream) +
                          " --set run.out=" + quoted(dir + "/runs") + " --set run.name=" + name +
                          " --set method.mode=reference" + (keep ? "" : " --set method.keep_optimizer=false")),
              137);
    const auto optimizer = io::safetensors_load(dir + "/runs/" + name + "/checkpoint/optimizer.safetensors").tensors;
    int64_t counted = 0;
    for (const auto& [key, tensor] : optimizer) {
      if (key.rfind("step.", 0) != 0) continue;
      EXPECT_EQ(tensor.item<double>(), 16.0) << key;
      ++counted;
    }
    if (keep) {
      EXPECT_GT(counted, 0);
    } else {
      EXPECT_EQ(counted, 0);
    }
  }
}

TEST(Run, LogKeepsWhatTheMethodDecidedAfterEachTask) {
  const auto dir = scratch_dir("train-method-log");
  const auto stream = image_stream(dir, "selective-lora");
  ASSERT_EQ(
      run_command(
          retain_binary() + " run " + quoted(stream) + " --set run.out=" + quoted(dir + "/runs") +
          " --set run.name=run --set method.warmup_ratio=0.25 --set method.sparsity=20 --set method.score_init=0.11"),
      0);
  const auto events = method_events(dir + "/runs/run");
  ASSERT_EQ(events.size(), 2u);
  for (size_t t = 0; t < events.size(); ++t) {
    EXPECT_EQ(events[t]["after"], "t" + std::to_string(t));
    const auto fractions = events[t]["state"]["active_fractions"].get<std::vector<double>>();
    ASSERT_EQ(fractions.size(), t + 1);
    for (double f : fractions) {
      EXPECT_GE(f, 0.0);
      EXPECT_LE(f, 1.0);
    }
  }
  const auto last = events.back()["state"]["active_fractions"].get<std::vector<double>>();
  EXPECT_LT(*std::min_element(last.begin(), last.end()), 1.0);
}

// A diverging run stops with an error naming the task and the step, and leaves a checkpoint that
// --resume accepts.
TEST(Resume, NonFiniteLossStopsAndKeepsTheLastCheckpoint) {
  const auto dir = scratch_dir("train-nan");
  const auto stream = image_stream(dir, "seqft");
  config::StreamConfig config = config::stream_config_load(
      stream, {"train.lr=1e30", "train.clip_norm=0", "run.out=" + dir + "/runs", "run.name=nan"});
  const auto message = error_of([&] { train::run_stream(config, {}); });
  EXPECT_NE(message.find("[train] task 't0' step "), std::string::npos) << message;
  EXPECT_NE(message.find("The last good checkpoint is"), std::string::npos) << message;
  const auto checkpoint = train::run_checkpoint_read(dir + "/runs/nan");
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_FALSE(checkpoint->model.empty());
  for (const auto& [name, tensor] : checkpoint->model)
    EXPECT_TRUE(torch::isfinite(tensor).all().template item<bool>()) << name;
}

// [retention]: the pretraining task's class means are taken under the starting model and kept in
// RUN/retention.safetensors; after the stream its test images are scored against them with the
// final model, which this test recomputes from the saved model folder. A killed and resumed run
// scores the same before and after.
TEST(Run, RetentionScoresThePretrainingTaskAgainstTheStartingMeans) {
  const auto dir = scratch_dir("train-retention");
  const auto stream = image_stream(dir, "seqft");
  std::ofstream(stream, std::ios::app)
      << "[retention]\nname = \"corners\"\nkind = \"image-classification\"\n"
      << "train = \"train-images\"\ntrain_labels = \"train-labels\"\n"
      << "test = \"test-images\"\ntest_labels = \"test-labels\"\nclasses = [0, 1, 2, 3]\n";
  const auto out = " --set run.out=" + quoted(dir + "/runs");
  ASSERT_EQ(run_command(retain_binary() + " run " + quoted(stream) + out + " --set run.name=whole"), 0);
  const auto whole = eval::run_result_read(dir + "/runs/whole/matrix.json");
  ASSERT_TRUE(whole.retention_before.has_value());
  ASSERT_TRUE(whole.retention_after.has_value());

  train::PrototypeHead means;
  means.load_state(io::safetensors_load(dir + "/runs/whole/retention.safetensors").tensors);
  ASSERT_EQ(means.normalised().sizes(), (std::vector<int64_t>{4, 16}));
  auto model = model::model_load(dir + "/runs/whole/model");
  model->eval();
  const auto test = data::idx_load(dir + "/test-images", dir + "/test-labels");
  std::vector<train::ImageRef> items;
  for (int64_t i = 0; i < test.size(); ++i) items.push_back({&test, i});
  auto batch = train::image_batch(items, 1, 8);
  const auto labels = batch.labels;
  batch.labels = torch::Tensor();
  torch::NoGradGuard no_grad;
  const auto predicted = means.logits(model->forward(batch).features, 4).argmax(1);
  const double accuracy = 100.0 * predicted.eq(labels).sum().item<double>() / static_cast<double>(test.size());
  EXPECT_NEAR(*whole.retention_after, accuracy, 1e-9);
  // The stored means are the starting model's: the trained model's own means differ from them.
  const auto train_images = data::idx_load(dir + "/train-images", dir + "/train-labels");
  std::vector<train::ImageRef> train_items;
  for (int64_t i = 0; i < train_images.size(); ++i) train_items.push_back({&train_images, i});
  train::PrototypeHead final_means;
  final_means.add_classes(*model, [&](const std::function<void(const model::Batch&)>& visit, int64_t) {
    visit(train::image_batch(train_items, 1, 8));
  });
  EXPECT_FALSE(torch::allclose(final_means.normalised(), means.normalised(), 1e-3, 1e-3));

  const auto killed = dir + "/runs/killed";
  EXPECT_EQ(run_command("RETAIN_CRASH_AFTER_STEPS=20 " + retain_binary() + " run " + quoted(stream) + out +
                        " --set run.name=killed"),
            137);
  ASSERT_EQ(run_command(retain_binary() + " run --resume " + quoted(killed)), 0);
  const auto resumed = eval::run_result_read(killed + "/matrix.json");
  EXPECT_EQ(resumed.retention_before, whole.retention_before);
  EXPECT_EQ(resumed.retention_after, whole.retention_after);
}

// A malformed data line stops the run before anything is trained or written, naming file and line.
TEST(Run, MalformedLineStopsBeforeTraining) {
  const auto dir = scratch_dir("train-malformed");
  std::ofstream(dir + "/good.jsonl") << R"({"input": "a", "output": " b"})"
                                     << "\n";
  std::ofstream(dir + "/bad.jsonl") << R"({"input": "a", "output": " b"})"
                                    << "\n"
                                    << R"({"input": "a"})"
                                    << "\n";
  fs::create_directories(dir + "/llama");
  std::ofstream(dir + "/llama/config.json") << "{}";
  std::ofstream(dir + "/stream.toml")
      << "[run]\nname = \"r\"\nout = \"" << dir << "/runs\"\n[model]\ninit = \"llama/config.json\"\n"
      << "[[task]]\nname = \"ok\"\nkind = \"generation\"\ntrain = \"good.jsonl\"\ntest = \"good.jsonl\"\n"
      << "[[task]]\nname = \"broken\"\nkind = \"generation\"\ntrain = \"bad.jsonl\"\ntest = \"good.jsonl\"\n";
  auto config = config::stream_config_load(dir + "/stream.toml");
  const auto message = error_of([&] { train::run_stream(config, {}); });
  EXPECT_NE(message.find("[data] " + dir + "/bad.jsonl:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("output"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir + "/runs/r"));
}

// A run folder with files is never overwritten by accident.
TEST(Resume, ExistingRunFolderIsRefusedWithoutForce) {
  const auto dir = scratch_dir("train-exists");
  const auto stream = image_stream(dir, "seqft");
  fs::create_directories(dir + "/runs/x");
  std::ofstream(dir + "/runs/x/keep.txt") << "mine";
  auto config = config::stream_config_load(stream, {"run.out=" + dir + "/runs", "run.name=x"});
  // The folder has no checkpoint, so the message does not send the user to --resume, and --resume
  // says there is none before anything is written (before: --resume, then "no checkpoint").
  const auto message = error_of([&] { train::run_stream(config, {}); });
  EXPECT_NE(message.find("already has files but no checkpoint"), std::string::npos) << message;
  EXPECT_EQ(message.find("--resume"), std::string::npos) << message;
  train::RunOptions resume;
  resume.resume = true;
  EXPECT_NE(error_of([&] { train::run_stream(config, resume); }).find("no checkpoint to resume from"),
            std::string::npos);
  EXPECT_TRUE(fs::exists(dir + "/runs/x/keep.txt"));
  EXPECT_FALSE(fs::exists(dir + "/runs/x/config.toml"));
}

// --resume on a finished run says so and leaves every file as it was (before: it claimed to resume,
// rewrote config.toml and saved the model again).
TEST(Resume, FinishedRunIsLeftAlone) {
  const auto dir = scratch_dir("train-finished");
  auto config = config::stream_config_load(image_stream(dir, "seqft"), {"run.out=" + dir + "/runs", "run.name=x"});
  const auto run_dir = train::run_stream(config, {});
  std::map<std::string, std::string> before;
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    if (entry.is_regular_file()) before[entry.path().string()] = bytes_of(entry.path());
  }
  const auto config_time = fs::last_write_time(run_dir + "/config.toml");
  train::RunOptions resume;
  resume.resume = true;
  EXPECT_EQ(train::run_stream(config, resume), run_dir);
  std::map<std::string, std::string> after;
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    if (entry.is_regular_file()) after[entry.path().string()] = bytes_of(entry.path());
  }
  EXPECT_EQ(after, before);
  EXPECT_EQ(fs::last_write_time(run_dir + "/config.toml"), config_time);
}

// Generation tasks and a plain-text task on a small Llama built from a config, with the real
// Llama-2 tokenizer: the run scores every seen task, measures general-text perplexity before and
// after, and writes a model folder that loads back with the trained weights.
TEST(Run, TextStreamOnADecoderEndToEnd) {
  const auto tokenizer = llama2_tokenizer();
  if (!fs::exists(tokenizer)) GTEST_SKIP() << tokenizer << " is missing (scripts/fetch-tokenizers.sh)";
  const auto dir = scratch_dir("train-text");
  auto config = config::stream_config_load(text_stream(dir, tokenizer));
  const auto run_dir = train::run_stream(config, {});
  const auto result = eval::run_result_read(run_dir + "/matrix.json");
  ASSERT_EQ(result.R.size(), 3u);
  for (int t = 0; t < 3; ++t) {
    for (int i = 0; i <= t; ++i) {
      ASSERT_TRUE(result.R[t][i].has_value()) << t << "," << i;
      if (i < 2) {
        EXPECT_TRUE(*result.R[t][i] >= 0 && *result.R[t][i] <= 100);
      }
    }
  }
  EXPECT_GT(*result.R[2][2], 1.0);  // a perplexity
  ASSERT_TRUE(result.general_ppl_before.has_value() && result.general_ppl_after.has_value());
  // Trained on that very text, the model finds it far less surprising than at initialisation.
  EXPECT_LT(*result.general_ppl_after, *result.general_ppl_before);
  auto loaded = model::model_load(run_dir + "/model");
  EXPECT_EQ(model::model_parameter_count(*loaded), 32000 * 16 + 2 * 16 + 16 * 16 * 2 + 16 * 8 * 2 + 3 * 16 * 32 + 16);
  for (const char* file : {"config.toml", "log.jsonl", "report.md", "report.svg"}) {
    EXPECT_TRUE(fs::exists(fs::path(run_dir) / file)) << file;
  }
}

// T5 trains from text with its Unigram tokenizer: the prompt (with T5's </s>) feeds the encoder,
// the target and </s> are the decoder's labels, and generation scores the decoder's answer.
TEST(Run, T5StreamFromTextEndToEnd) {
  const auto dir = scratch_dir("train-t5");
  auto config = config::stream_config_load(t5_stream(dir));
  const auto tokenizer = tok::Tokenizer::load(config.model.path);
  const auto model = model::model_load(config.model.path);
  const auto special = train::special_tokens(*model);
  const auto example =
      train::tokenize_seq2seq_example(*tokenizer, {"Copy: cat\n", " cat"}, special, config.train.max_length);
  const auto source = tokenizer->encode("Copy: cat\n", true);
  ASSERT_EQ(source.back(), 1);  // </s>
  EXPECT_EQ(example.prompt_length, static_cast<int64_t>(source.size()));
  EXPECT_EQ(example.ids.back(), 1);
  const train::TokenizedExample shorter{{5, 6, 1, 7, 1}, 3};
  const auto batch = train::seq2seq_batch({&example, &shorter}, special.pad);
  EXPECT_EQ(batch.input_ids.size(1), example.prompt_length);
  EXPECT_EQ(batch.labels[1][0].item<int64_t>(), 7);
  EXPECT_EQ(batch.labels[1][1].item<int64_t>(), 1);
  EXPECT_EQ(batch.labels[1].slice(0, 2).eq(-100).all().item<bool>(), true);
  EXPECT_EQ(batch.attention_mask[1].sum().item<int64_t>(), 3);

  // [eval] probe: scored before and after the stream, into matrix.json and the report.
  std::ofstream(dir + "/probe.jsonl") << data::probe_line({"Copy: cat\n", {" cat", " dog"}, 0}) << "\n"
                                      << data::probe_line({"Copy: sun\n", {" moon", " sun", " fish"}, 1}) << "\n";
  config.eval.probe = dir + "/probe.jsonl";

  const auto run_dir = train::run_stream(config, {});
  const auto result = eval::run_result_read(run_dir + "/matrix.json");
  ASSERT_TRUE(result.probe_before.has_value() && result.probe_after.has_value());
  for (double accuracy : {*result.probe_before, *result.probe_after}) {
    EXPECT_TRUE(accuracy == 0 || accuracy == 50 || accuracy == 100) << accuracy;
  }
  EXPECT_NE(bytes_of(run_dir + "/report.md").find("multiple-choice probe"), std::string::npos);
  ASSERT_EQ(result.R.size(), 2u);
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i <= t; ++i) {
      ASSERT_TRUE(result.R[t][i].has_value()) << t << "," << i;
      EXPECT_TRUE(*result.R[t][i] >= 0 && *result.R[t][i] <= 100);
    }
  }
  // Untrained, it answers nothing right (the base row); trained, it copies some of the words.
  EXPECT_GT(*result.R[0][0], 0.0);
  // The first task's loss falls while it is trained.
  std::vector<double> losses;
  std::ifstream log(run_dir + "/log.jsonl");
  for (std::string line; std::getline(log, line);) {
    auto event = nlohmann::json::parse(line);
    if (event.value("event", "") == "step" && event.value("task", "") == "copy") losses.push_back(event["loss"]);
  }
  ASSERT_GE(losses.size(), 4u);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
}

// The summed log-probabilities of `choice` after `question`, one sequence at a time (no batching,
// no padding): the reference the probe's batched scoring must agree with.
double choice_log_likelihood(model::Model& model, const tok::Tokenizer& tokenizer, const std::string& question,
                             const std::string& choice) {
  torch::NoGradGuard no_grad;
  const auto q = tokenizer.encode(question, true), c = tokenizer.encode(choice, false);
  model::Batch batch;
  torch::Tensor logits, targets;
  if (model.kind() == model::ModelKind::Seq2SeqLM) {
    batch.input_ids = torch::tensor(std::vector<int64_t>(q.begin(), q.end())).unsqueeze(0);
    batch.attention_mask = torch::ones_like(batch.input_ids);
    batch.labels = torch::tensor(std::vector<int64_t>(c.begin(), c.end())).unsqueeze(0);
    logits = model.forward(batch).logits[0];
    targets = batch.labels[0];
  } else {
    std::vector<int64_t> ids(q.begin(), q.end());
    ids.insert(ids.end(), c.begin(), c.end());
    batch.input_ids = torch::tensor(ids).unsqueeze(0);
    batch.attention_mask = torch::ones_like(batch.input_ids);
    logits = model.forward(batch).logits[0].narrow(0, static_cast<int64_t>(q.size()) - 1, c.size());
    targets = batch.input_ids[0].narrow(0, static_cast<int64_t>(q.size()), c.size());
  }
  return torch::log_softmax(logits.to(torch::kDouble), -1).gather(1, targets.unsqueeze(1)).sum().item<double>();
}

// The probe's answer is the choice of highest log-likelihood: with every item's answer set to the
// choice the one-at-a-time reference ranks first, it scores 100; set to the last, 0. Batches of 5
// rows mix items and pad choices of different lengths, on a decoder and on T5.
TEST(Evaluator, ProbePicksTheChoiceWithTheHighestLogLikelihood) {
  const auto dir = scratch_dir("probe");
  std::ofstream(dir + "/config.json") << R"({"model_type": "llama", "vocab_size": 384, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "bos_token_id": 1,
    "eos_token_id": 1, "initializer_range": 0.5})";
  const std::string t5 = RETAIN_SOURCE_DIR "/tests/fixtures/hf/t5";
  const auto tokenizer = tok::Tokenizer::load(t5);
  std::vector<data::ProbeItem> items = {
      {"Definition: a domestic animal that purrs\nWord:", {" cat", " dog", " tree", " moon"}, 0},
      {"2 + 2 =", {" 4", " four", " 22", " fish"}, 0},
      {"The capital of France is", {" Paris", " a city on the Seine", " Rome"}, 0},
      {"Opposite of hot:", {" cold", " warm", " freezing cold weather"}, 0},
      {"Colour of the sky:", {" blue", " green"}, 0},
      {"x", {" the quick brown fox", " y", " z", " jumps"}, 0},
  };
  for (auto model : {model::model_init(dir + "/config.json", 7), model::model_load(t5)}) {
    SCOPED_TRACE(model->config().model_type());
    model->eval();
    for (auto& item : items) {
      std::vector<double> scores;
      for (const auto& choice : item.choices)
        scores.push_back(choice_log_likelihood(*model, *tokenizer, item.question, choice));
      item.answer = std::max_element(scores.begin(), scores.end()) - scores.begin();
      ASSERT_EQ(std::count(scores.begin(), scores.end(), scores[item.answer]), 1);  // no tie
    }
    train::EvalOptions options;
    options.batch_size = 5;
    train::Evaluator evaluator(*model, tokenizer.get(), options, torch::kCPU);
    EXPECT_DOUBLE_EQ(evaluator.probe_accuracy(items, "probe.jsonl"), 100.0);
    for (auto& item : items) item.answer = static_cast<int64_t>(item.choices.size()) - 1;
    int64_t last_is_best = 0;
    for (auto& item : items) {
      std::vector<double> scores;
      for (const auto& choice : item.choices)
        scores.push_back(choice_log_likelihood(*model, *tokenizer, item.question, choice));
      last_is_best += std::max_element(scores.begin(), scores.end()) - scores.begin() == item.answer;
    }
    EXPECT_NEAR(evaluator.probe_accuracy(items, "probe.jsonl"), 100.0 * last_is_best / items.size(), 1e-9);
  }
}

// Perplexity (text tasks, general_text) needs a decoder-only model: refused for T5 before the run
// starts, naming the stream.
TEST(Run, PerplexityOnAnEncoderDecoderIsRefused) {
  const auto dir = scratch_dir("train-t5-text");
  const auto stream = t5_stream(dir);
  std::ofstream(dir + "/general.txt") << "The cat sat on the mat.\n";
  auto with_text = config::stream_config_load(stream);
  with_text.eval.general_text = dir + "/general.txt";
  test::expect_error_with([&] { train::run_stream(with_text, {}); }, "[config] " + stream,
                          {"general_text", "encoder-decoder (t5)"});
  std::ofstream(stream, std::ios::app) << "[[task]]\nname = \"text\"\nkind = \"text\"\ntrain = \"general.txt\"\n";
  auto text_task = config::stream_config_load(stream);
  test::expect_error_with([&] { train::run_stream(text_task, {}); }, "[config] " + stream,
                          {"'text' is kind = \"text\"", "encoder-decoder (t5)"});
  EXPECT_FALSE(fs::exists(dir + "/runs"));
}

// save = "gguf": the run's final model as one GGUF file, the adapters merged in, holding the same
// weights as save = "full" writes (the runs are deterministic) and the run's tokenizer.
TEST(Run, GgufSaveHoldsTheFinalModelAndTheTokenizer) {
  const auto tokenizer = llama2_tokenizer();
  if (!fs::exists(tokenizer)) GTEST_SKIP() << tokenizer << " is missing (scripts/fetch-tokenizers.sh)";
  const auto dir = scratch_dir("train-gguf");
  const auto stream = text_stream(dir, tokenizer);
  const std::vector<std::string> common = {"method.name=o-lora", "method.rank=4", "train.lr=1e-3", "train.epochs=1"};
  auto with = [&](std::vector<std::string> extra, const std::string& name) {
    extra.insert(extra.end(), common.begin(), common.end());
    extra.push_back("run.name=" + name);
    return train::run_stream(config::stream_config_load(stream, extra), {});
  };
  const auto full = with({"model.save=full"}, "full");
  const auto gguf = with({"model.save=gguf", "model.gguf_type=f32"}, "gguf");
  EXPECT_FALSE(fs::exists(gguf + "/model"));
  auto a = model::model_state(*model::model_load(full + "/model"));
  auto b = model::model_state(*model::model_load(gguf + "/model.gguf"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  const auto reference = tok::Tokenizer::load(tokenizer);
  const auto from_gguf = tok::Tokenizer::load(gguf + "/model.gguf");
  const std::string text = "The cat sat on the mat.";
  EXPECT_EQ(from_gguf->encode(text, true), reference->encode(text, true));
}

// save = "adapters": O-LoRA's per-task adapters come out as PEFT folders named after the tasks, one
// LoRA on q_proj and v_proj each, with no full model beside them.
TEST(Run, AdapterMethodsSaveOnePeftFolderPerTask) {
  const auto tokenizer = llama2_tokenizer();
  if (!fs::exists(tokenizer)) GTEST_SKIP() << tokenizer << " is missing (scripts/fetch-tokenizers.sh)";
  const auto dir = scratch_dir("train-adapters");
  auto config = config::stream_config_load(
      text_stream(dir, tokenizer), {"method.name=o-lora", "method.rank=4", "model.save=adapters", "train.lr=1e-3"});
  const auto run_dir = train::run_stream(config, {});
  for (const char* task : {"copy", "twice", "text"}) {
    const auto adapter = io::peft_adapter_read(run_dir + "/adapters/" + task);
    EXPECT_EQ(adapter.task_type, "CAUSAL_LM");
    EXPECT_EQ(adapter.layers.size(), 2u) << task;
    for (const auto& [module, weights] : adapter.layers) {
      EXPECT_EQ(weights.A.size(0), 4) << module;
      EXPECT_DOUBLE_EQ(weights.scale, 32.0 / 4) << module;
      EXPECT_GT(weights.B.abs().max().item<double>(), 0) << module << ": B never trained";
    }
  }
  EXPECT_FALSE(fs::exists(run_dir + "/model"));
}

// A long evaluation says how far it is (before: silent until done): a line with the count, the total
// and an ETA once an interval has passed, none before it, none from a quiet (non-leader) rank.
TEST(WorkProgress, LongWorkSaysHowFarItIs) {
  auto text_of = [](double every, bool quiet) {
    std::FILE* out = std::tmpfile();
    train::WorkProgress progress("[eval] task 'copy'", 8, "examples", quiet, every, out);
    progress.done(0);
    progress.done(2);
    progress.done(6);
    std::rewind(out);
    std::string text;
    for (int c; (c = std::fgetc(out)) != EOF;) text += static_cast<char>(c);
    std::fclose(out);
    return text;
  };
  const auto every = text_of(0, false);
  EXPECT_NE(every.find("[eval] task 'copy': 2/8 examples, 0s so far, ETA 0s\n"), std::string::npos) << every;
  EXPECT_NE(every.find("[eval] task 'copy': 6/8 examples"), std::string::npos) << every;
  EXPECT_EQ(every.find("0/8"), std::string::npos) << every;
  EXPECT_EQ(text_of(3600, false), "");
  EXPECT_EQ(text_of(0, true), "");
}

}  // namespace
