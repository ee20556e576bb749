// commands.h - each `retain` sub-command lives in its own cmd-*.cpp and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace retain::cli {

// A whole number of at least `least` that fits int64, for integer options ("--batch: must be 1 or
// more, got 0"; CLI11's own range checks print a 300-digit bound, and its conversion saturates).
inline CLI::Validator whole_number_at_least(int64_t least) {
  return CLI::Validator(
      [least](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const long long value = std::stoll(text, &used);
          if (used != text.size()) return "'" + text + "' is not a whole number";
          return value < least ? "must be " + std::to_string(least) + " or more, got " + text : "";
        } catch (const std::out_of_range&) {
          return "'" + text + "' is more than " + std::to_string(INT64_MAX);
        } catch (const std::invalid_argument&) {
          return "'" + text + "' is not a whole number";
        }
      },
      least > 0 ? "POSITIVE" : "NON-NEGATIVE");
}

// The same for options that take any finite number (seconds).
inline CLI::Validator number_at_least(double least) {
  return CLI::Validator(
      [least](std::string& text) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(text, &used);
          if (used != text.size() || !std::isfinite(value)) return "'" + text + "' is not a finite number";
          std::ostringstream bound;
          bound << least;
          return value < least ? "must be " + bound.str() + " or more, got " + text : "";
        } catch (const std::exception&) {
          return "'" + text + "' is not a finite number";
        }
      },
      "NUMBER");
}

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
