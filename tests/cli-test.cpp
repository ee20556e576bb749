// The command line's outputs never replace its inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "streams.h"
#include "test-support.h"

namespace fs = std::filesystem;
using namespace retain::test;

namespace {

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// `retain compare RUN --out RUN/matrix.json` is refused (the run's matrix is kept, byte for byte);
// the same table to another file is written.
TEST(Compare, OutputThatIsAnInputIsRefused) {
  const auto dir = scratch_dir("cli-compare");
  const auto stream = image_stream(dir, "seqft");
  const auto run = dir + "/runs/one";
  ASSERT_EQ(run_command(retain_binary() + " run " + quoted(stream) + " --set run.out=" + quoted(dir + "/runs") +
                        " --set run.name=one"),
            0);
  const auto matrix = bytes_of(run + "/matrix.json");
  EXPECT_NE(run_command(retain_binary() + " compare " + quoted(run) + " --out " + quoted(run + "/matrix.json")), 0);
  EXPECT_NE(
      run_command(retain_binary() + " compare " + quoted(run) + " --out " + quoted(dir + "/runs/./one/matrix.json")),
      0);
  EXPECT_EQ(bytes_of(run + "/matrix.json"), matrix);
  ASSERT_EQ(run_command(retain_binary() + " compare " + quoted(run) + " --out " + quoted(dir + "/table.md")), 0);
  EXPECT_NE(bytes_of(dir + "/table.md").find("| one |"), std::string::npos);
}

}  // namespace
