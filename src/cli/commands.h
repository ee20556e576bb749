// commands.h - each `retain` sub-command lives in its own cmd-*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace retain::cli {

struct Command {
  CLI::App* app;             // the parsed sub-command
  std::function<int()> run;  // returns the exit code
};

Command add_demo(CLI::App& app);
Command add_parity(CLI::App& app);
Command add_run(CLI::App& app);
Command add_data(CLI::App& app);
Command add_report(CLI::App& app);
Command add_compare(CLI::App& app);
Command add_info(CLI::App& app);
Command add_convert(CLI::App& app);
Command add_generate(CLI::App& app);
Command add_tokenize(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_launch(CLI::App& app);
// `bench methods`, registered by add_bench (cmd-bench-methods.cpp); `run` returns -1 when not chosen.
void add_bench_methods(CLI::App& bench, std::function<int()>& run);

inline std::vector<Command> all_commands(CLI::App& app) {
  return {add_run(app),      add_data(app),     add_report(app), add_compare(app), add_info(app),   add_convert(app),
          add_tokenize(app), add_generate(app), add_bench(app),  add_demo(app),    add_parity(app), add_launch(app)};
}

}  // namespace retain::cli
