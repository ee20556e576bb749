// atomic-folder.cpp - see atomic-folder.h.
#include "io/atomic-folder.h"

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "error.h"
#include "io/atomic-file.h"

namespace retain::io {

namespace fs = std::filesystem;

namespace {

std::string previous_of(const std::string& target) { return target + ".old"; }

void rename_or_fail(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::rename(from, to, error);
  if (error) fail("io", to.string(), ": cannot move ", from.string(), " there: ", error.message());
}

}  // namespace

void replace_folder(const std::string& staged, const std::string& target) {
  const auto previous = previous_of(target);
  std::error_code ignored;
  fs::remove_all(previous, ignored);
  if (!fs::exists(target)) {
    rename_or_fail(staged, target);
  } else if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    // `staged` now holds the old folder.
    sync_folder_of(target);
    fs::remove_all(staged, ignored);
    return;
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    // No exchange on this file system: two renames, with the old folder kept until the new one is in place.
    rename_or_fail(target, previous);
    rename_or_fail(staged, target);
  } else {
    fail("io", target, ": cannot swap in ", staged, ": ", std::strerror(errno));
  }
  sync_folder_of(target);
  fs::remove_all(previous, ignored);
}

std::optional<std::string> folder_or_previous(const std::string& target) {
  if (fs::exists(target)) return target;
  if (fs::exists(previous_of(target))) return previous_of(target);
  return std::nullopt;
}

}  // namespace retain::io
