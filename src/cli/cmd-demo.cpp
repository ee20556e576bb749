// retain demo: the main job on an embedded default. A real class-incremental comparison on
// Split Fashion-MNIST (5 tasks of 2 classes, from Debian's dataset-fashion-mnist): a small ViT
// trained from scratch by each method in turn, every seen task scored after each task, and the
// matrices and the AA / BWT / forgetting table printed. Sized to finish in a few minutes on 2 cores.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/stream-config.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "train/trainer.h"

namespace retain::cli {

namespace {

namespace fs = std::filesystem;

// The stream and the model config live in the repository, so `retain run` reproduces any demo run.
constexpr const char* kStream = RETAIN_SOURCE_DIR "/streams/split-fashion-mnist.toml";
constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

struct Options {
  std::string out = "runs/demo";
  std::vector<std::string> methods = {"seqft", "replay", "ewc", "migu", "osft", "joint"};
  int64_t max_train = 2000, max_test = 500;
};

int run_demo(const Options& o) {
  if (!fs::exists(fs::path(kFashionMnist) / "train-images-idx3-ubyte.gz")) {
    fail("demo", kFashionMnist,
         ": Fashion-MNIST is missing; install it with: apt-get install dataset-fashion-mnist "
         "(make setup does)");
  }
  std::printf(
      "retain demo: class-incremental Split Fashion-MNIST, 5 tasks x 2 classes, %ld training images each;\n"
      "a 2-layer ViT (width 64) trained from scratch; methods: ",
      static_cast<long>(o.max_train));
  for (const auto& m : o.methods) std::printf("%s ", m.c_str());
  std::printf("\nstream: %s\n\n", kStream);

  std::vector<std::pair<std::string, eval::RunResult>> runs;
  for (const auto& method : o.methods) {
    std::vector<std::string> overrides = {"method.name=" + method, "run.name=" + method, "run.out=" + o.out};
    for (int task = 1; task <= 5; ++task) {
      overrides.push_back("task." + std::to_string(task) + ".max_train=" + std::to_string(o.max_train));
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
  std::printf("\n## Comparison\n\n%s\n", eval::compare_table(runs).c_str());
  std::printf("reports: %s/<method>/report.md (+ report.svg)\n", o.out.c_str());
  return 0;
}

}  // namespace

Command add_demo(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand("demo", "class-incremental Split Fashion-MNIST: SeqFT against the other methods");
  sub->add_option("--out", options->out, "folder for the runs")->capture_default_str();
  sub->add_option("--methods", options->methods, "methods to compare")->delimiter(',')->capture_default_str();
  sub->add_option("--max-train", options->max_train, "training images per task")->capture_default_str();
  sub->add_option("--max-test", options->max_test, "test images per task")->capture_default_str();
  return {sub, [options] { return run_demo(*options); }};
}

}  // namespace retain::cli
