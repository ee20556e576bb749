// retain demo: the main job on an embedded default. A real class-incremental comparison on
// Split Fashion-MNIST (5 tasks of 2 classes, from Debian's dataset-fashion-mnist, no task id at test
// time, no stored examples) starting from a pretrained model: the small ViT pretrained on MNIST digits
// (scripts/vision-pretrain.sh, which `make demo` runs first), scored by nearest class mean. Each
// method learns the stream in turn from the same pretrained weights; every seen task is scored after
// each task, and so is the pretraining task (MNIST), the model's earlier ability. The table shows
// what each method forgot of the stream and of the pretrained model. A few minutes on 2 cores.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/stream-config.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "method/method.h"
#include "train/trainer.h"

namespace retain::cli {

namespace {

namespace fs = std::filesystem;

// The stream and the model config live in the repository, so `retain run` reproduces any demo run.
constexpr const char* kStream = RETAIN_SOURCE_DIR "/streams/split-fashion-mnist-pretrained.toml";
constexpr const char* kPretrained = RETAIN_SOURCE_DIR "/runs/vit-pretrain-mnist/model";
constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";
// The vision benchmark's learning rates (README "Results"; not tuned): the stream's 5e-4 for
// methods that train the weights, 3e-3 for those that train adapters.
constexpr double kAdapterLr = 3e-3;

struct Options {
  std::string out = "runs/demo";
  std::vector<std::string> methods = {"seqft", "seqlora", "inflora", "lora-minus", "selective-lora"};
  int64_t max_train = 1000, max_test = 0;
};

int run_demo(const Options& o) {
  if (!fs::exists(fs::path(kFashionMnist) / "train-images-idx3-ubyte.gz")) {
    fail("demo", kFashionMnist,
         ": Fashion-MNIST is missing; install it with: apt-get install dataset-fashion-mnist "
         "(make setup does)");
  }
  if (!fs::exists(fs::path(kPretrained) / "model.safetensors")) {
    fail("demo", kPretrained,
         ": the pretrained ViT is missing; make it with scripts/vision-pretrain.sh (make demo does)");
  }
  std::printf(
      "retain demo: class-incremental Split Fashion-MNIST, 5 tasks x 2 classes, %ld training images each,\n"
      "from a small ViT pretrained on MNIST digits (%s), nearest-class-mean head;\n"
      "methods: ",
      static_cast<long>(o.max_train), kPretrained);
  for (const auto& m : o.methods) std::printf("%s ", m.c_str());
  std::printf("\nstream: %s\n\n", kStream);

  std::vector<std::pair<std::string, eval::RunResult>> runs;
  for (const auto& method : o.methods) {
    config::Options method_options("demo", "method");
    const bool adapters = method::method_create(method, method_options)->trains_adapters();
    std::vector<std::string> overrides = {"method.name=" + method, "run.name=" + method, "run.out=" + o.out};
    if (adapters) overrides.push_back("train.lr=" + std::to_string(kAdapterLr));
    for (int task = 1; task <= 5; ++task) {
      overrides.push_back("task." + std::to_string(task) + ".max_train=" + std::to_string(o.max_train));
      if (o.max_test > 0)
        overrides.push_back("task." + std::to_string(task) + ".max_test=" + std::to_string(o.max_test));
    }
    auto config = config::stream_config_load(kStream, overrides);
    train::RunOptions run;
    run.force = true;
    const auto dir = train::run_stream(config, run);
    auto result = eval::run_result_read((fs::path(dir) / "matrix.json").string());
    std::printf("\n%s\n", eval::report_markdown(result, method).c_str());
    runs.emplace_back(method, std::move(result));
  }
  std::printf(
      "\n## Comparison\n\nAA: mean accuracy over the 5 tasks after the last one; BWT, forgetting: what the stream's\n"
      "earlier tasks lost; pretrain acc: MNIST accuracy after the stream (%.2f before it).\n\n%s\n",
      runs.empty() || !runs.front().second.retention_before ? 0.0 : *runs.front().second.retention_before,
      eval::compare_table_by_seed(runs).c_str());
  std::printf("reports: %s/<method>/report.md (+ report.svg)\n", o.out.c_str());
  return 0;
}

}  // namespace

Command add_demo(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand(
      "demo", "class-incremental Split Fashion-MNIST from an MNIST-pretrained ViT: SeqFT against the other methods");
  sub->add_option("--out", options->out, "folder for the runs")->capture_default_str();
  sub->add_option("--methods", options->methods, "methods to compare")->delimiter(',')->capture_default_str();
  sub->add_option("--max-train", options->max_train, "training images per task")->capture_default_str();
  sub->add_option("--max-test", options->max_test, "test images per task (0: all)")->capture_default_str();
  return {sub, [options] { return run_demo(*options); }};
}

}  // namespace retain::cli
