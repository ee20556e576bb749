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

// "" when `text` is a number of at least `least`, else why not, for an option's validator ("--batch:
// must be 1 or more, got 0"; CLI11's own range checks print a 300-digit bound, and its conversion
// saturates). `whole`: a whole number that fits int64; else any finite number.
inline std::string number_at_least_check(const std::string& text, double least, bool whole) {
  const std::string what = whole ? "a whole number" : "a finite number";
  size_t used = 0;
  double value = 0;
  try {
    value = whole ? static_cast<double>(std::stoll(text, &used)) : std::stod(text, &used);
  } catch (const std::out_of_range&) {
    if (!whole) return "'" + text + "' is not " + what;
    return "'" + text + "' is outside " + std::to_string(INT64_MIN) + ".." + std::to_string(INT64_MAX);
  } catch (const std::invalid_argument&) {
    return "'" + text + "' is not " + what;
  }
  if (used != text.size() || !std::isfinite(value)) return "'" + text + "' is not " + what;
  if (value >= least) return "";
  std::ostringstream bound;
  bound << least;
  return "must be " + bound.str() + " or more, got " + text;
}

// Integer options (--batch, --steps).
inline CLI::Validator whole_number_at_least(int64_t least) {
  return CLI::Validator(
      [least](std::string& text) { return number_at_least_check(text, static_cast<double>(least), true); },
      least > 0 ? "POSITIVE" : "NON-NEGATIVE");
}

// Options that take any finite number (seconds).
inline CLI::Validator number_at_least(double least) {
  return CLI::Validator([least](std::string& text) { return number_at_least_check(text, least, false); }, "NUMBER");
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
