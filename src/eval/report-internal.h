// report-internal.h - what report.cpp, report-svg.cpp and report-compare.cpp share: number and
// Markdown table text, and reading RunResult::settings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "eval/run-result.h"

namespace retain::eval::report_internal {

// What a cell holds for a value that was not measured.
inline constexpr const char* kUnmeasured = "·";

// printf of one double; a value that rounds to zero prints without a sign.
std::string format(const char* pattern, double value);
// "%.2f", or kUnmeasured when there is no value.
std::string fixed2(const std::optional<double>& value);
// "12.3 MiB" / "1.50 GiB", or kUnmeasured for 0 or less.
std::string bytes_text(int64_t bytes);
double total_seconds(const RunResult& result);

// Text for one Markdown table cell.
std::string cell(const std::string& text);
std::string table_row(const std::vector<std::string>& cells);

// A settings value as a person writes it: strings without quotes.
std::string setting_text(const nlohmann::json& value);
// settings[section][key], or nullptr when missing.
const nlohmann::json* setting(const nlohmann::json& settings, const char* section, const char* key);
std::string method_name(const RunResult& result);

}  // namespace retain::eval::report_internal
