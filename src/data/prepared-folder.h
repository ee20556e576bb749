// prepared-folder.h - the all-or-nothing write of a prepared folder: `out` afterwards holds exactly
// `files`, or is as it was before (a folder written half is never left at `out`).
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace retain::data {

// Writes every file (path relative to `out` -> content) into a temporary folder beside `out`, then
// swaps it into place (io::replace_folder: an existing `out` is replaced in one step). Errors name `out`;
// the temporary folder is removed on failure. The parent of `out` must exist.
void write_prepared_folder(const std::filesystem::path& out, const std::map<std::string, std::string>& files);

}  // namespace retain::data
