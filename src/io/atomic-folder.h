// atomic-folder.h - folders that are either the old version or the new one after a crash, never
// missing and never a mix: the new folder is written completely beside the target (`staged`), then
// swapped into place in one step. The files counterpart is atomic-file.h.
#pragma once

#include <optional>
#include <string>

namespace retain::io {

// Moves the finished folder `staged` to `target`, replacing any folder there, and removes the old
// one. Where the file system can swap two folders in one step (Linux renameat2 RENAME_EXCHANGE),
// `target` is at every moment the old folder or the new one. Elsewhere the old folder is first
// renamed to `target.old`, so a crash between the two renames leaves it there
// (folder_or_previous finds it).
void replace_folder(const std::string& staged, const std::string& target);

// `target` when it exists, else `target.old` when a crash of replace_folder's fallback left it
// there, else nothing.
std::optional<std::string> folder_or_previous(const std::string& target);

}  // namespace retain::io
