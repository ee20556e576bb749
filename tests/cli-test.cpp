// Bad inputs through the command line, as a user gives them: each ends in one line on stderr that
// starts with the component and names the file and the thing, a non-zero exit, and earlier outputs
// left byte for byte; and the command line's outputs never replace its inputs.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors.h"
#include "streams.h"
#include "test-support.h"

namespace fs = std::filesystem;
using namespace retain::test;

namespace {

struct Outcome {
  int code = 0;
  std::string out, err;
};

Outcome run_capturing(const std::string& command) {
  const auto dir = scratch_dir("output");
  const int status =
      std::system((command + " >" + quoted(dir + "/stdout.txt") + " 2>" + quoted(dir + "/stderr.txt")).c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, bytes_of(dir + "/stdout.txt"), bytes_of(dir + "/stderr.txt")};
}

// A refusal: non-zero, one line "error: [component] ..." holding every one of `parts`.
void expect_refused(const Outcome& outcome, const std::string& component, const std::vector<std::string>& parts) {
  EXPECT_NE(outcome.code, 0) << outcome.err;
  EXPECT_EQ(outcome.err.rfind("error: [" + component + "] ", 0), 0u) << outcome.err;
  EXPECT_EQ(std::count(outcome.err.begin(), outcome.err.end(), '\n'), 1) << outcome.err;
  for (const auto& part : parts) EXPECT_NE(outcome.err.find(part), std::string::npos) << part << " in " << outcome.err;
}

TEST(BadInput, AWordThatIsNoCommandIsNamed) {
  expect_refused(run_capturing(retain_binary() + " frobnicate"), "cli",
                 {"'frobnicate' is not a retain command", "run", "generate"});
}

// The text stream's run folder holds an earlier run (one file stands for it); each bad input below is
// refused with --force before anything in it is removed.
class BadStream : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = llama2_tokenizer();
    if (!fs::exists(tokenizer_)) GTEST_SKIP() << tokenizer_ << " is missing (scripts/fetch-tokenizers.sh)";
    dir_ = scratch_dir("bad-stream");
    stream_ = text_stream(dir_, tokenizer_);
    fs::create_directories(dir_ + "/runs/text");
    std::ofstream(earlier()) << "an earlier run";
  }
  std::string earlier() const { return dir_ + "/runs/text/report.md"; }
  Outcome run_forced(const std::string& sets = "") const {
    return run_capturing(retain_binary() + " run " + quoted(stream_) + " --force " + sets);
  }
  void set_model_field(const std::string& key, const nlohmann::json& value) const {
    const auto path = dir_ + "/llama/config.json";
    auto json = nlohmann::json::parse(bytes_of(path));
    json[key] = value;
    std::ofstream(path) << json.dump();
  }
  void expect_earlier_run_kept() const { EXPECT_EQ(bytes_of(earlier()), "an earlier run"); }

  std::string tokenizer_, dir_, stream_;
};

TEST_F(BadStream, ConfigValuesThatCannotBeRight) {
  const std::pair<const char*, nlohmann::json> cases[] = {{"rms_norm_eps", -1e-6},
                                                          {"max_position_embeddings", 0},
                                                          {"rope_theta", 0},
                                                          {"num_attention_heads", 0},
                                                          {"vocab_size", -5}};
  const auto original = bytes_of(dir_ + "/llama/config.json");
  for (const auto& [key, value] : cases) {
    SCOPED_TRACE(key);
    set_model_field(key, value);
    expect_refused(run_forced(), "config", {dir_ + "/llama/config.json", std::string("'") + key + "'"});
    std::ofstream(dir_ + "/llama/config.json") << original;
  }
  expect_earlier_run_kept();
}

// The Llama-2 tokenizer's 32,000 ids on a model with 100 embedding rows (before: libtorch's "index
// out of range in self" mid-run, after --force had removed the old run).
TEST_F(BadStream, TokenizerPastTheVocabulary) {
  set_model_field("vocab_size", 100);
  expect_refused(run_forced(), "config", {stream_, tokenizer_, "31999", "100 embedding rows"});
  expect_earlier_run_kept();
}

// Generation past the model's 128 positions (before: it ran for minutes while memory grew), and
// step counts past int64 (before: "-2 steps").
TEST_F(BadStream, LengthsAndCountsPastTheModelOrInt64) {
  // Each names the --set that gave the value (the stream file when the file gave it).
  expect_refused(
      run_forced("--set eval.max_new_tokens=1000000"), "config",
      {"--set eval.max_new_tokens=1000000: [eval] max_new_tokens = 1000000", "128 positions", "at most 127"});
  expect_refused(run_forced("--set task.copy.max_new_tokens=128"), "config",
                 {"--set task.copy.max_new_tokens=128: [[task]] 'copy' max_new_tokens = 128"});
  expect_refused(run_forced("--set train.max_steps=9223372036854775000"), "config",
                 {"--set train.max_steps=9223372036854775000: train.max_steps = 9223372036854775000", "do not fit"});
  {
    std::ofstream(stream_, std::ios::app) << "max_new_tokens = 500\n";  // the last [[task]]'s
    expect_refused(run_forced(), "config", {stream_ + ": [[task]] 'text' max_new_tokens = 500"});
  }
  expect_refused(run_forced("--set train.max_length=1"), "config", {"max_length", "2 or more"});
  expect_earlier_run_kept();
}

// A method's own checks of its options name the --set that gave the value, else the stream file
// (before: "[method] ewc: lambda must not be negative, got -1" and no file).
TEST_F(BadStream, MethodOptionsNameWhereTheyWereGiven) {
  expect_refused(run_forced("--set method.name=ewc --set method.lambda=-1"), "method",
                 {"--set method.lambda=-1: [method] ewc: lambda must not be negative, got -1"});
  expect_refused(run_forced("--set method.name=nosuch"), "method",
                 {"--set method.name=nosuch: [method] unknown method"});
  std::ofstream(stream_, std::ios::app) << "[method]\nname = \"migu\"\nthreshold = 2.0\n";
  expect_refused(run_forced(), "method", {stream_ + ": [method] migu: threshold must be in [0, 1), got 2"});
  expect_earlier_run_kept();
}

// Examples longer than the model's positions are cut to them, with a line saying so (the default
// max_length, 256, is more than some models have), and the run's config.toml says what was used.
TEST_F(BadStream, MaxLengthPastThePositionsIsCutWithALine) {
  const auto ran = run_forced("--set train.max_length=1000 --set train.max_steps=1");
  ASSERT_EQ(ran.code, 0) << ran.err;
  EXPECT_NE(ran.err.find("[train] max_length 1000 is more than the 128 positions of " + dir_ + "/llama/config.json"),
            std::string::npos)
      << ran.err;
  EXPECT_NE(bytes_of(dir_ + "/runs/text/config.toml").find("max_length = 128"), std::string::npos);
}

// Images of another size than the model's are resized with a line saying so, once per task (before:
// without a word); images of the model's size get no line.
TEST(BadInput, ResizedImagesAreSaid) {
  const auto dir = scratch_dir("resized");
  const auto stream = image_stream(dir, "seqft");
  const auto run =
      retain_binary() + " run " + quoted(stream) + " --set train.max_steps=1 --set run.out=" + quoted(dir + "/runs");
  auto same = run_capturing(run + " --set run.name=same");
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(same.err.find("images are resized"), std::string::npos) << same.err;
  auto json = nlohmann::json::parse(bytes_of(dir + "/vit/config.json"));
  json["image_size"] = 16;
  std::ofstream(dir + "/vit/config.json") << json.dump();
  auto resized = run_capturing(run + " --set run.name=resized");
  ASSERT_EQ(resized.code, 0) << resized.err;
  EXPECT_NE(resized.err.find("[train] task 't0': its 8x8 images are resized to the model's 16x16 (bilinear)"),
            std::string::npos)
      << resized.err;
  EXPECT_NE(resized.err.find("task 't1'"), std::string::npos) << resized.err;
}

// A model larger than the machine's memory is refused by its config.json before anything is allocated
// (before: the allocator's "you tried to allocate 40960000000000 bytes", or, for two billion layers,
// minutes of building without a word); the timeout turns such a hang into a failure.
TEST(BadInput, ModelsLargerThanTheMachineAreRefusedByTheirConfig) {
  const auto dir = scratch_dir("huge-model");
  const auto stream = image_stream(dir, "seqft");
  const auto config = nlohmann::json::parse(bytes_of(dir + "/vit/config.json"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, int64_t>>{
           {"hidden_size", 3200000}, {"num_hidden_layers", 2000000000}, {"intermediate_size", 64000000000}}) {
    auto huge = config;
    huge[key] = value;
    const auto path = dir + "/vit/" + key + ".json";
    std::ofstream(path) << huge.dump();
    expect_refused(run_capturing("timeout 60 " + retain_binary() + " run " + quoted(stream) +
                                 " --set model.init=" + quoted(path) + " --set run.out=" + quoted(dir + "/runs")),
                   "model", {path + ": the model it describes has ", "more than this machine's memory"});
  }
}

// Errors std::filesystem raises end in the same one-line form, naming the path (before: "filesystem
// error: cannot create directories: Not a directory [...]" with no component).
TEST(BadInput, FileSystemErrorsNameThePath) {
  const auto dir = scratch_dir("fs-error");
  const auto stream = image_stream(dir, "seqft");
  std::ofstream(dir + "/a-file") << "not a folder";
  expect_refused(
      run_capturing(retain_binary() + " run " + quoted(stream) + " --set run.out=" + quoted(dir + "/a-file")), "files",
      {dir + "/a-file/stream: cannot create directories: Not a directory"});
}

// Numbers on the command line: the option, the bound and the text given, both ways past int64.
TEST(BadInput, NumbersOnTheCommandLineAreChecked) {
  const auto batch = [](const std::string& value) {
    return run_capturing(retain_binary() + " bench methods --init none.json --batch " + value);
  };
  expect_refused(batch("0"), "cli", {"--batch: must be 1 or more, got 0"});
  expect_refused(batch("1.5"), "cli", {"--batch: '1.5' is not a whole number"});
  for (const std::string big : {"99999999999999999999", "-99999999999999999999"}) {
    expect_refused(batch(big), "cli", {"--batch: '" + big + "' is outside -9223372036854775808..9223372036854775807"});
  }
  const auto seconds = [](const std::string& value) {
    return run_capturing(retain_binary() + " bench tokenize none.json --file none.txt --seconds " + value);
  };
  expect_refused(seconds("-0.5"), "cli", {"--seconds: must be 0 or more, got -0.5"});
  for (const std::string bad : {"nan", "1e999", "x"}) {
    expect_refused(seconds(bad), "cli", {"--seconds: '" + bad + "' is not a finite number"});
  }
}

// retain bench tokenize names --file and its line for text that is not UTF-8 (before: the tokenizer).
TEST(BadInput, BenchTokenizeNamesTheTextFile) {
  const auto tokenizer = llama2_tokenizer();
  if (!fs::exists(tokenizer)) GTEST_SKIP() << tokenizer << " is missing (scripts/fetch-tokenizers.sh)";
  const auto text = scratch_dir("bench-text") + "/text.txt";
  std::ofstream(text, std::ios::binary) << "fine\nab\xff\n";
  expect_refused(run_capturing(retain_binary() + " bench tokenize " + quoted(tokenizer) + " --file " + quoted(text)),
                 "bench", {text + ":2: the text is not UTF-8 at byte 2"});
}

// retain info says whether a folder would load, without reading its weights: 0 on every fixture,
// and a refusal naming the tensor when one is missing (before: exit 0).
TEST(BadInput, InfoRefusesAFolderThatCannotLoad) {
  for (const auto& name : model_fixtures()) {
    const auto ran = run_capturing(retain_binary() + " info " + quoted(fixture_path(name)));
    EXPECT_EQ(ran.code, 0) << name << ": " << ran.err;
  }
  const auto model = fixture_path("llama");
  if (!fs::exists(model + "/config.json")) GTEST_SKIP() << "no llama fixture";
  const auto dir = scratch_dir("no-norm");
  fs::copy_file(model + "/config.json", dir + "/config.json");
  auto tensors = retain::io::safetensors_load(model + "/model.safetensors").tensors;
  tensors.erase("model.norm.weight");
  retain::io::safetensors_save(dir + "/model.safetensors", tensors);
  expect_refused(run_capturing(retain_binary() + " info " + quoted(dir)), "model",
                 {dir, "no tensor 'model.norm.weight'"});
}

// retain generate on the llama fixture (its config gives 256 positions and 384 ids).
TEST(BadInput, GenerationPastTheModel) {
  const auto model = fixture_path("llama");
  if (!fs::exists(model + "/config.json")) GTEST_SKIP() << "no llama fixture";
  const auto generate = retain_binary() + " generate " + quoted(model) + " --prompt-ids 1,2,3";
  expect_refused(run_capturing(generate + " --max-new-tokens 1000"), "generate",
                 {"--max-new-tokens 1000", model + "/config.json", "256 positions", "at most 253 new tokens"});
  expect_refused(run_capturing(generate + ",384"), "generate",
                 {"prompt token id 384", model + "/config.json", "0..383"});
  EXPECT_EQ(run_capturing(generate + " --max-new-tokens 2").code, 0);
}

// `retain compare RUN --out RUN/matrix.json` is refused (the run's matrix is kept, byte for byte);
// the same table to another file is written.
TEST(Compare, OutputThatIsAnInputIsRefused) {
  const auto dir = scratch_dir("cli-compare");
  const auto stream = image_stream(dir, "seqft");
  const auto run = dir + "/runs/one";
  const auto ran = run_capturing(retain_binary() + " run " + quoted(stream) +
                                 " --set run.out=" + quoted(dir + "/runs") + " --set run.name=one");
  ASSERT_EQ(ran.code, 0) << ran.err;
  // stdout: one line with the metrics and where the report is (before: the whole report.md).
  EXPECT_EQ(std::count(ran.out.begin(), ran.out.end(), '\n'), 1) << ran.out;
  EXPECT_NE(ran.out.find(": 2 tasks, AA "), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("; report " + run + "/report.md"), std::string::npos) << ran.out;
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
