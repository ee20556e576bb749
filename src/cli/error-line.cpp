#include "cli/error-line.h"

#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <new>
#include <regex>
#include <stdexcept>

#include "error.h"

namespace retain::cli {

namespace {

constexpr const char* kMemoryAdvice = "lower train.batch_size or train.max_length, or use a smaller model";

std::string gib(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", bytes / double(int64_t(1) << 30));
  return text;
}

// "filesystem error: cannot create directories: Not a directory [/a/b]" -> "cannot create
// directories: Not a directory", said of the path.
std::string filesystem_line(const std::filesystem::filesystem_error& e) {
  std::string what = e.what();
  const std::string prefix = "filesystem error: ";
  if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
  const auto bracket = what.find(" [");
  if (bracket != std::string::npos) what.erase(bracket);
  std::string line = "[files] " + e.path1().string() + ": " + what;
  if (!e.path2().empty()) line += " (to " + e.path2().string() + ")";
  return line;
}

// libtorch's allocators say "you tried to allocate N bytes" (CPU) or "Tried to allocate 2.00 GiB" (CUDA).
std::string torch_line(const c10::Error& e) {
  const std::string what = e.what_without_backtrace();
  static const std::regex kCpu(R"(you tried to allocate (\d+) bytes)");
  std::smatch match;
  if (std::regex_search(what, match, kCpu)) {
    return "[memory] out of memory: an allocation of " + gib(std::stod(match[1])) + " failed; " + kMemoryAdvice;
  }
  if (what.find("out of memory") != std::string::npos) {
    const auto end = what.find('.');
    return "[memory] " + what.substr(0, end) + "; " + kMemoryAdvice;
  }
  const auto newline = what.find('\n');
  return "[torch] " + what.substr(0, newline);
}

}  // namespace

std::string error_line(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::filesystem::filesystem_error& e) {
    return filesystem_line(e);
  } catch (const c10::Error& e) {
    return torch_line(e);
  } catch (const std::bad_alloc&) {
    return std::string("[memory] out of memory: an allocation failed; ") + kMemoryAdvice;
  } catch (const std::length_error&) {
    return std::string("[memory] a size larger than this machine can allocate was asked for; ") + kMemoryAdvice;
  } catch (const std::exception& e) {
    return std::string("[internal] ") + e.what() + " (a bug: please report it with the command that led here)";
  } catch (...) {
    return "[internal] an unknown error (a bug: please report it with the command that led here)";
  }
}

}  // namespace retain::cli
