// prepared-folder.cpp - the all-or-nothing write of a prepared folder (a temporary folder swapped in
// by io::replace_folder).
#include "data/prepared-folder.h"

#include <stdlib.h>

#include <fstream>

#include "error.h"
#include "io/atomic-folder.h"

namespace retain::data {

namespace fs = std::filesystem;

namespace {

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) fail("data", path.string(), ": cannot write the file");
}

// A new empty folder beside `target` named TARGET.<what>-XXXXXX, readable by all like a folder
// made with mkdir (mkdtemp makes it private).
fs::path make_temp_dir(const fs::path& target, const char* what) {
  std::string pattern = target.string() + "." + what + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) fail("data", pattern, ": cannot create a temporary folder");
  fs::permissions(pattern, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  return pattern;
}

}  // namespace

void write_prepared_folder(const fs::path& out, const std::map<std::string, std::string>& files) {
  const fs::path temp = make_temp_dir(out, "tmp");
  try {
    for (const auto& [relative, content] : files) write_file(temp / relative, content);
    io::replace_folder(temp.string(), out.string());
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(temp);
    fail("data", out.string(), ": cannot write the folder (", e.what(), ")");
  } catch (...) {
    fs::remove_all(temp);
    throw;
  }
}

}  // namespace retain::data
