// retain demo: the main job on an embedded default. A real class-incremental comparison on
// Split Fashion-MNIST (5 tasks of 2 classes, from Debian's dataset-fashion-mnist): a small ViT
// trained from scratch by each method in turn, every seen task scored after each task, and the
// matrices and the AA / BWT / forgetting table printed. Sized to finish in a few minutes on 2 cores.
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/stream-config.h"
#include "error.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "io/atomic-file.h"
#include "train/trainer.h"

namespace retain::cli {

namespace {

namespace fs = std::filesystem;

// A ViT for 28×28 grey images: 16 patches of 7×7, 2 layers of width 64, 10 classes.
constexpr const char* kVitConfig = R"({
  "model_type": "vit",
  "architectures": ["ViTForImageClassification"],
  "image_size": 28,
  "patch_size": 7,
  "num_channels": 1,
  "hidden_size": 64,
  "num_hidden_layers": 2,
  "num_attention_heads": 4,
  "intermediate_size": 128,
  "hidden_act": "gelu",
  "layer_norm_eps": 1e-12,
  "initializer_range": 0.02,
  "qkv_bias": true,
  "num_labels": 10,
  "id2label": {"0": "T-shirt/top", "1": "Trouser", "2": "Pullover", "3": "Dress", "4": "Coat",
               "5": "Sandal", "6": "Shirt", "7": "Sneaker", "8": "Bag", "9": "Ankle boot"},
  "label2id": {"T-shirt/top": 0, "Trouser": 1, "Pullover": 2, "Dress": 3, "Coat": 4,
               "Sandal": 5, "Shirt": 6, "Sneaker": 7, "Bag": 8, "Ankle boot": 9}
}
)";

constexpr const char* kFashionMnist = "/usr/share/datasets/fashion-mnist";

// The stream: every task reads the Debian IDX files and keeps its two classes.
std::string demo_stream(int64_t max_train, int64_t max_test) {
  std::ostringstream toml;
  toml << "[model]\ninit = \"vit-tiny/config.json\"\n\n"
       << "[train]\nepochs = 2\nbatch_size = 32\nlr = 1e-3\nweight_decay = 0.01\nschedule = \"cosine\"\n"
       << "warmup_ratio = 0.1\nlog_every = 20\n\n"
       << "[eval]\nbatch_size = 250\n";
  const char* names[] = {"tshirt-trouser", "pullover-dress", "coat-sandal", "shirt-sneaker", "bag-boot"};
  for (int t = 0; t < 5; ++t) {
    toml << "\n[[task]]\nname = \"" << names[t] << "\"\nkind = \"image-classification\"\n"
         << "train = \"" << kFashionMnist << "/train-images-idx3-ubyte.gz\"\n"
         << "train_labels = \"" << kFashionMnist << "/train-labels-idx1-ubyte.gz\"\n"
         << "test = \"" << kFashionMnist << "/t10k-images-idx3-ubyte.gz\"\n"
         << "test_labels = \"" << kFashionMnist << "/t10k-labels-idx1-ubyte.gz\"\n"
         << "classes = [" << 2 * t << ", " << 2 * t + 1 << "]\n"
         << "max_train = " << max_train << "\nmax_test = " << max_test << "\n";
  }
  return toml.str();
}

struct Options {
  std::string out = "runs/demo";
  std::vector<std::string> methods = {"seqft", "replay", "joint"};
  int64_t max_train = 2000, max_test = 500;
};

int run_demo(const Options& o) {
  if (!fs::exists(fs::path(kFashionMnist) / "train-images-idx3-ubyte.gz")) {
    fail("demo", kFashionMnist, ": Fashion-MNIST is missing; install it with: apt-get install dataset-fashion-mnist "
         "(make setup does)");
  }
  fs::create_directories(fs::path(o.out) / "vit-tiny");
  io::write_file_atomic((fs::path(o.out) / "vit-tiny" / "config.json").string(), kVitConfig);
  const auto stream_path = (fs::path(o.out) / "split-fashion-mnist.toml").string();
  io::write_file_atomic(stream_path, demo_stream(o.max_train, o.max_test));
  std::printf("retain demo: class-incremental Split Fashion-MNIST, 5 tasks x 2 classes, %ld training images each;\n"
              "a 2-layer ViT (width 64) trained from scratch; methods: ", static_cast<long>(o.max_train));
  for (const auto& m : o.methods) std::printf("%s ", m.c_str());
  std::printf("\nstream: %s\n\n", stream_path.c_str());

  std::vector<std::pair<std::string, eval::RunResult>> runs;
  for (const auto& method : o.methods) {
    auto config = config::stream_config_load(
        stream_path, {"method.name=" + method, "run.name=" + method, "run.out=" + o.out});
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
