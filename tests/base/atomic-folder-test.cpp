// io::replace_folder and folder_or_previous: a folder swapped into place whole, the old one gone, and
// the fallback a reader uses after a crash between two renames.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../test-support.h"
#include "io/atomic-folder.h"

namespace {

namespace fs = std::filesystem;
using retain::test::TempDir;

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string read(const fs::path& path) { return retain::test::bytes_of(path); }

TEST(AtomicFolder, MovesTheStagedFolderWhereNoneWas) {
  TempDir dir;
  write(dir.path / "staged" / "a.txt", "new");
  retain::io::replace_folder(dir / "staged", dir / "target");
  EXPECT_EQ(read(dir.path / "target" / "a.txt"), "new");
  EXPECT_FALSE(fs::exists(dir.path / "staged"));
}

TEST(AtomicFolder, ReplacesAnOldFolderAndLeavesNothingBeside) {
  TempDir dir;
  write(dir.path / "target" / "a.txt", "old");
  write(dir.path / "target" / "only-old.txt", "old");
  write(dir.path / "staged" / "a.txt", "new");
  write(dir.path / "staged" / "sub" / "b.txt", "new b");
  retain::io::replace_folder(dir / "staged", dir / "target");
  EXPECT_EQ(read(dir.path / "target" / "a.txt"), "new");
  EXPECT_EQ(read(dir.path / "target" / "sub" / "b.txt"), "new b");
  EXPECT_FALSE(fs::exists(dir.path / "target" / "only-old.txt"));
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir.path)) left.push_back(entry.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"target"});
}

TEST(AtomicFolder, AMissingStagedFolderIsAnErrorNamingTheTarget) {
  TempDir dir;
  write(dir.path / "target" / "a.txt", "old");
  retain::test::expect_error_with([&] { retain::io::replace_folder(dir / "no-such-folder", dir / "target"); }, "[io] ",
                                  {dir / "target"});
  EXPECT_EQ(read(dir.path / "target" / "a.txt"), "old");
}

TEST(AtomicFolder, ReadersFallBackToThePreviousFolder) {
  TempDir dir;
  const auto target = dir / "checkpoint";
  EXPECT_FALSE(retain::io::folder_or_previous(target));
  fs::create_directories(target + ".old");
  EXPECT_EQ(retain::io::folder_or_previous(target), target + ".old");
  fs::create_directories(target);
  EXPECT_EQ(retain::io::folder_or_previous(target), target);
}

}  // namespace
