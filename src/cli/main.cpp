// retain - continual fine-tuning of pretrained transformers. The one place that catches errors:
// every failure ends in one line on stderr and a non-zero exit.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "blas.h"
#include "cli/commands.h"
#include "cli/error-line.h"
#include "compat.h"
#include "heap.h"

int main(int argc, char** argv) {
  retain::blas::run_on_the_cpus_kernels(argv);
  retain::heap::keep_freed_memory();
  // libgomp starts with one thread unless OMP_NUM_THREADS says otherwise.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  CLI::App app{"retain: continual fine-tuning of pretrained transformers without forgetting"};
  app.require_subcommand(1);
  app.failure_message(
      [](const CLI::App*, const CLI::Error& e) { return std::string("error: [cli] ") + e.what() + " (see --help)\n"; });
  app.set_version_flag("--version", std::string("retain 0.1 (libtorch ") + TORCH_VERSION + ")");
  std::vector<retain::cli::Command> commands = retain::cli::all_commands(app);
  // A first word that names no command (CLI11 would say "A subcommand is required").
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const auto& command : commands) {
      known = known || command.app->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command.app->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "error: [cli] '%s' is not a retain command (commands: %s; see --help)\n", argv[1],
                   names.c_str());
      return 1;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
  } catch (...) {
    std::fprintf(stderr, "error: %s\n", retain::cli::error_line(std::current_exception()).c_str());
  }
  return 1;
}
