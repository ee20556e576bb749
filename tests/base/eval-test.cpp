// The evaluation layer on hand-made runs: every metric against values worked out by hand in the
// comments (1-based task indices, as in docs/methods.md §1.2), partial runs and unmeasured entries,
// the scorers on known pairs, matrix.json round trips and read errors, report.md, report.svg and
// the comparison table.
#include <gtest/gtest.h>
#include <cstdint>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../test-support.h"
#include "error.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "eval/run-result.h"
#include "eval/scorers.h"

namespace retain::eval {
namespace {

using retain::test::bytes_of;
using retain::test::error_of;
using retain::test::scratch_dir;

constexpr std::nullopt_t kNull = std::nullopt;

size_t occurrences(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

// Three tasks, every score measured, with the forward entries R[1][2], R[2][3] and base scores:
//            a    b    c
//   base    10   25   15
//   after a 80   30    ·
//   after b 70   90   20
//   after c 60   95   85
RunResult three_tasks() {
  RunResult result = run_result_new({"a", "b", "c"}, {"accuracy", "rouge_l", "exact_match"});
  result.R = {{80.0, 30.0, kNull}, {70.0, 90.0, 20.0}, {60.0, 95.0, 85.0}};
  result.base = {10.0, 25.0, 15.0};
  result.test_sizes = {100, 200, 300};
  result.general_ppl_before = 12.5;
  result.general_ppl_after = 14.0;
  result.task_seconds = {4.0, 5.0, 3.0};
  result.peak_memory_bytes = int64_t{3} << 29;  // 1.5 GiB
  return result;
}

TEST(EvalScorers, ExactMatchStripsSurroundingWhitespaceOnly) {
  EXPECT_EQ(exact_match("  positive\n", "positive"), 1.0);
  EXPECT_EQ(exact_match("positive", "\tpositive "), 1.0);
  EXPECT_EQ(exact_match("Positive", "positive"), 0.0);
  EXPECT_EQ(exact_match("very  good", "very good"), 0.0);
  EXPECT_EQ(exact_match("", " \n"), 1.0);
  EXPECT_EQ(score("accuracy", "World ", "World"), 1.0);
  EXPECT_EQ(score("exact_match", "World", "Sports"), 0.0);
}

TEST(EvalScorers, RougeLIsTheLcsF1) {
  // pred 6 tokens, ref 5, LCS "the cat on the mat" = 5: P = 5/6, R = 5/5, F = 2PR/(P+R) = 10/11.
  EXPECT_DOUBLE_EQ(rouge_l("the cat sat on the mat", "the cat on the mat"), 10.0 / 11.0);
  // rouge-score's README pair: LCS "the quick brown jumps the" = 5 of 8 predicted and 9 reference
  // tokens: P = 5/8, R = 5/9, F = (50/72) / (85/72) = 10/17 (0.5882).
  EXPECT_DOUBLE_EQ(rouge_l("The quick brown dog jumps on the log.", "The quick brown fox jumps over the lazy dog"),
                   10.0 / 17.0);
  // Case and punctuation do not count; order does: LCS of "a b c" and "c b a" is 1, F = 1/3.
  EXPECT_DOUBLE_EQ(rouge_l("The, CAT!", "the cat"), 1.0);
  EXPECT_DOUBLE_EQ(rouge_l("a b c", "c b a"), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(rouge_l("a b", "c d"), 0.0);
  EXPECT_DOUBLE_EQ(rouge_l("", ""), 1.0);
  EXPECT_DOUBLE_EQ(rouge_l("?!", " "), 1.0);
  EXPECT_DOUBLE_EQ(rouge_l("word", ""), 0.0);
  EXPECT_DOUBLE_EQ(rouge_l("", "word"), 0.0);
  // Non-ASCII words are words: "größe" matches itself, "über" does not match "uber".
  EXPECT_DOUBLE_EQ(rouge_l("größe über", "größe uber"), 0.5);
  EXPECT_DOUBLE_EQ(score("rouge_l", "the cat sat on the mat", "the cat on the mat"), 10.0 / 11.0);
}

TEST(EvalScorers, UnknownMetricIsAnError) {
  EXPECT_EQ(error_of([] { score("bleu", "a", "a"); }),
            "[eval] unknown answer metric 'bleu' (known: exact_match, accuracy, rouge_l)");
  EXPECT_NE(error_of([] { score("perplexity", "a", "a"); }).find("'perplexity'"), std::string::npos);
}

TEST(EvalMetrics, FullThreeByThree) {
  const auto m = metrics_compute(three_tasks());
  EXPECT_EQ(m.completed_tasks, 3);
  // AA = (60 + 95 + 85) / 3 = 80
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 80.0);
  // BWT = ((60 − 80) + (95 − 90)) / 2 = −7.5
  EXPECT_DOUBLE_EQ(*m.bwt, -7.5);
  // clipped = −(min(−20, 0) + min(5, 0) + min(0, 0)) / 3 = 20/3
  EXPECT_DOUBLE_EQ(*m.clipped_forgetting, 20.0 / 3.0);
  // FWT = ((R12 − b2) + (R23 − b3)) / 2 = ((30 − 25) + (20 − 15)) / 2 = 5
  EXPECT_DOUBLE_EQ(*m.fwt, 5.0);
  // forgetting: task 1: max(80 − 60, 70 − 60) = 20; task 2: 90 − 95 = −5; (20 − 5) / 2 = 7.5
  EXPECT_DOUBLE_EQ(*m.forgetting, 7.5);
  // 14 − 12.5
  EXPECT_DOUBLE_EQ(*m.perplexity_drift, 1.5);
  EXPECT_FALSE(m.class_incremental);
  EXPECT_TRUE(m.incremental_accuracy.empty());
  EXPECT_FALSE(m.last_accuracy);

  const auto json = metrics_to_json(m);
  EXPECT_EQ(json["completed_tasks"], 3);
  EXPECT_DOUBLE_EQ(json["bwt"].get<double>(), -7.5);
  EXPECT_FALSE(json.contains("last_accuracy"));
}

TEST(EvalMetrics, PartialRunUsesTheCompletedRowsOnly) {
  auto result = three_tasks();
  result.R[2] = {kNull, kNull, kNull};
  result.task_seconds.pop_back();
  const auto m = metrics_compute(result);
  // T = 2, last row (70, 90): AA = 80; BWT = 70 − 80 = −10; clipped = −(−10 + 0) / 2 = 5;
  // FWT = R12 − b2 = 30 − 25 = 5 (R23 belongs to row 2 and is not used without task 3);
  // forgetting = (80 − 70) / 1 = 10.
  EXPECT_EQ(m.completed_tasks, 2);
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 80.0);
  EXPECT_DOUBLE_EQ(*m.bwt, -10.0);
  EXPECT_DOUBLE_EQ(*m.clipped_forgetting, 5.0);
  EXPECT_DOUBLE_EQ(*m.fwt, 5.0);
  EXPECT_DOUBLE_EQ(*m.forgetting, 10.0);
}

TEST(EvalMetrics, UnmeasuredEntriesAreLeftOut) {
  //            a    b    c
  //   after a 80    ·    ·
  //   after b  ·   90    ·
  //   after c  ·   95   85
  RunResult result = run_result_new({"a", "b", "c"}, {});
  result.R = {{80.0, kNull, kNull}, {kNull, 90.0, kNull}, {kNull, 95.0, 85.0}};
  const auto m = metrics_compute(result);
  // AA = (95 + 85) / 2 = 90; BWT over task 2 only: 95 − 90 = 5; clipped over tasks 2, 3: 0 (not −0);
  // forgetting over task 2 only: 90 − 95 = −5; FWT: no base scores, null.
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 90.0);
  EXPECT_DOUBLE_EQ(*m.bwt, 5.0);
  EXPECT_DOUBLE_EQ(*m.clipped_forgetting, 0.0);
  EXPECT_FALSE(std::signbit(*m.clipped_forgetting));
  EXPECT_DOUBLE_EQ(*m.forgetting, -5.0);
  EXPECT_FALSE(m.fwt);
  EXPECT_FALSE(m.perplexity_drift);
  EXPECT_TRUE(metrics_to_json(m)["fwt"].is_null());
}

TEST(EvalMetrics, OneTaskHasNoTransferOrForgetting) {
  RunResult result = run_result_new({"a", "b"}, {});
  result.R[0] = {70.0, 40.0};
  result.base = {20.0, 30.0};
  const auto m = metrics_compute(result);
  EXPECT_EQ(m.completed_tasks, 1);
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 70.0);
  EXPECT_DOUBLE_EQ(*m.clipped_forgetting, 0.0);
  EXPECT_FALSE(m.bwt);
  EXPECT_FALSE(m.fwt);
  EXPECT_FALSE(m.forgetting);

  const auto none = metrics_compute(run_result_new({"a", "b"}, {}));
  EXPECT_EQ(none.completed_tasks, 0);
  EXPECT_FALSE(none.average_accuracy);
  EXPECT_FALSE(none.clipped_forgetting);
}

TEST(EvalMetrics, ClassIncrementalWeightsByTestSize) {
  //            a    b    c      test sizes 100, 300, 100
  //   after a 90    ·    ·      A1 = 90
  //   after b 80   60    ·      A2 = (80·100 + 60·300) / 400 = 26000 / 400 = 65
  //   after c 70   50   90      A3 = (70·100 + 50·300 + 90·100) / 500 = 31000 / 500 = 62
  RunResult result = run_result_new({"a", "b", "c"}, {"accuracy", "accuracy", "accuracy"});
  result.R = {{90.0, kNull, kNull}, {80.0, 60.0, kNull}, {70.0, 50.0, 90.0}};
  result.test_sizes = {100, 300, 100};
  result.class_incremental = true;
  const auto m = metrics_compute(result);
  ASSERT_EQ(m.incremental_accuracy.size(), 3u);
  EXPECT_DOUBLE_EQ(*m.incremental_accuracy[0], 90.0);
  EXPECT_DOUBLE_EQ(*m.incremental_accuracy[1], 65.0);
  EXPECT_DOUBLE_EQ(*m.incremental_accuracy[2], 62.0);
  EXPECT_DOUBLE_EQ(*m.last_accuracy, 62.0);
  // Ā = (90 + 65 + 62) / 3 = 217 / 3; AA stays the unweighted (70 + 50 + 90) / 3 = 70.
  EXPECT_DOUBLE_EQ(*m.average_incremental_accuracy, 217.0 / 3.0);
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 70.0);

  const auto json = metrics_to_json(m);
  EXPECT_DOUBLE_EQ(json["last_accuracy"].get<double>(), 62.0);
  EXPECT_EQ(json["incremental_accuracy"].size(), 3u);

  // A partial class-incremental run: A_T is the last completed step's A_2 = 65.
  result.R[2] = {kNull, kNull, kNull};
  const auto partial = metrics_compute(result);
  EXPECT_DOUBLE_EQ(*partial.last_accuracy, 65.0);
  EXPECT_DOUBLE_EQ(*partial.average_incremental_accuracy, (90.0 + 65.0) / 2);
}

TEST(EvalRunResult, MatrixJsonRoundTrips) {
  const auto dir = scratch_dir("eval-round-trip");
  const auto path = dir + "/matrix.json";
  auto result = three_tasks();
  result.R[2] = {kNull, kNull, kNull};
  result.task_seconds.pop_back();
  result.class_incremental = true;
  result.settings = {{"method", {{"name", "replay"}}}};
  run_result_write(result, path);

  const auto back = run_result_read(path);
  EXPECT_EQ(back.tasks, result.tasks);
  EXPECT_EQ(back.metric_names, result.metric_names);
  EXPECT_EQ(back.R, result.R);
  EXPECT_EQ(back.base, result.base);
  EXPECT_EQ(back.test_sizes, result.test_sizes);
  EXPECT_EQ(back.class_incremental, true);
  EXPECT_EQ(back.general_ppl_before, result.general_ppl_before);
  EXPECT_EQ(back.general_ppl_after, result.general_ppl_after);
  EXPECT_EQ(back.task_seconds, result.task_seconds);
  EXPECT_EQ(back.peak_memory_bytes, result.peak_memory_bytes);
  EXPECT_EQ(back.settings, result.settings);

  const auto json = nlohmann::json::parse(bytes_of(path));
  EXPECT_TRUE(json["R"][2][0].is_null());
  EXPECT_TRUE(json["R"][0][2].is_null());
  EXPECT_EQ(json["metrics"]["completed_tasks"], 2);
  EXPECT_DOUBLE_EQ(json["metrics"]["bwt"].get<double>(), -10.0);
  EXPECT_DOUBLE_EQ(json["general_perplexity"]["drift"].get<double>(), 1.5);
  // Written atomically: nothing but matrix.json is left in the folder.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1);
  // Writing what was read gives the same bytes.
  const auto first = bytes_of(path);
  run_result_write(back, path);
  EXPECT_EQ(bytes_of(path), first);
}

TEST(EvalRunResult, MinimalFileNeedsOnlyTasksAndR) {
  const auto result = run_result_from_json(nlohmann::json::parse(R"({"tasks": ["a"], "R": [[50]]})"), "m.json");
  EXPECT_EQ(result.R[0][0], 50.0);
  EXPECT_TRUE(result.base.empty());
  EXPECT_DOUBLE_EQ(*metrics_compute(result).average_accuracy, 50.0);
}

// The error run_result_read gives for a matrix.json holding `text`.
std::string read_error(const std::string& text) {
  const auto path = scratch_dir("eval-read-error") + "/matrix.json";
  std::ofstream(path) << text;
  const auto message = error_of([&] { run_result_read(path); });
  const std::string prefix = "[eval] " + path + ": ";
  EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
  return message.substr(std::min(message.size(), prefix.size()));
}

TEST(EvalRunResult, ReadErrorsNameTheFileAndTheField) {
  EXPECT_EQ(read_error(R"({"tasks": ["a", "b", "c"], "R": [[1, null, null], [1, 2], [1, 2, 3]]})"),
            "\"R\" row 2 has 2 entries, expected 3");
  EXPECT_EQ(read_error(R"({"tasks": ["a", "b"], "R": [[1, null]]})"), "\"R\" has 1 rows, expected 2 (one per task)");
  EXPECT_EQ(read_error(R"({"tasks": ["a"]})"), "\"R\" is missing");
  EXPECT_EQ(read_error(R"({"R": [[1]]})"), "\"tasks\" is missing");
  EXPECT_EQ(read_error(R"({"tasks": ["a", "b"], "R": [[1, "x"], [null, null]]})"),
            "\"R\" row 1 entry 2 is a string, expected a number or null");
  EXPECT_EQ(read_error(R"({"tasks": ["a"], "R": {"x": 1}})"), "\"R\" is an object, expected a list");
  EXPECT_EQ(read_error(R"({"tasks": ["a"], "R": [[1]], "metric_names": ["bleu"]})"),
            "\"metric_names\" entry 1 is 'bleu' (known: exact_match, accuracy, rouge_l, perplexity)");
  EXPECT_EQ(read_error(R"({"tasks": ["a", "b"], "R": [[1, null], [1, 2]], "base": [1]})"),
            "\"base\" has 1 entries, expected 2 (one per task)");
  EXPECT_EQ(read_error(R"({"tasks": ["a"], "R": [[1]], "test_sizes": [1.5]})"),
            "\"test_sizes\" entry 1 is a number, expected an integer");
  EXPECT_EQ(read_error(R"({"tasks": ["a", "a"], "R": [[1, null], [1, 2]]})"), "\"tasks\" names 'a' twice");
  EXPECT_EQ(read_error(R"({"tasks": ["a"], "R": [[1]], "general_perplexity": {"before": "x"}})"),
            "\"general_perplexity.before\" is a string, expected a number or null");
  EXPECT_EQ(read_error("[1, 2]"), "the file is not a JSON object");
  EXPECT_EQ(read_error("{\"tasks\": "), "not valid JSON");
  const auto missing = scratch_dir("eval-missing") + "/matrix.json";
  EXPECT_EQ(error_of([&] { run_result_read(missing); }),
            "[eval] " + missing + ": cannot open the file (No such file or directory)");
}

// Joint multi-task training measures only the last row: T counts up to it, AA comes from it, and
// the metrics that need the diagonal have nothing to average.
TEST(EvalMetrics, OnlyTheLastRowMeasured) {
  auto result = run_result_from_json(
      nlohmann::json::parse(
          R"({"tasks": ["a", "b", "c"], "R": [[null, null, null], [null, null, null], [90, 60, 30]]})"),
      "joint");
  const auto m = metrics_compute(result);
  EXPECT_EQ(m.completed_tasks, 3);
  ASSERT_TRUE(m.average_accuracy.has_value());
  EXPECT_DOUBLE_EQ(*m.average_accuracy, 60.0);  // (90 + 60 + 30) / 3
  EXPECT_FALSE(m.bwt.has_value());
  EXPECT_FALSE(m.forgetting.has_value());
}

TEST(EvalReport, MarkdownHasTheMatrixMetricsAndConfig) {
  auto result = three_tasks();
  result.settings = {{"run", {{"name", "demo-run"}, {"seed", 7}}},
                     {"model", {{"path", "models/tiny"}}},
                     {"method", {{"name", "replay"}, {"buffer", 100}}},
                     {"train", {{"lr", 0.0001}, {"batch_size", 8}, {"epochs", 2}}}};
  const auto md = report_markdown(result, run_name(result, "runs/ignored"));
  EXPECT_EQ(md.rfind("# retain report: demo-run\n", 0), 0u) << md;
  EXPECT_NE(md.find("| R[t][i] | a | b | c |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| metric | accuracy | rouge_l | exact_match |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| base | 10.00 | 25.00 | 15.00 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| after a | 80.00 | 30.00 | · |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| after b | 70.00 | 90.00 | 20.00 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| after c | 60.00 | 95.00 | 85.00 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("## Metrics (T = 3)"), std::string::npos) << md;
  EXPECT_NE(md.find("| AA | 80.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| BWT | -7.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| clipped forgetting | 6.67 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 12.50 | 14.00 | 1.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| total | 12.0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Peak memory: 1.50 GiB."), std::string::npos) << md;
  EXPECT_NE(md.find("| method | replay (buffer=100) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| model | models/tiny |"), std::string::npos) << md;
  EXPECT_NE(md.find("| learning rate | 0.0001 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| seed | 7 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("partial run"), std::string::npos);
}

TEST(EvalReport, MarkdownOfAPartialClassIncrementalRun) {
  RunResult result = run_result_new({"x|y", "z"}, {});
  result.R[0] = {90.0, kNull};
  result.class_incremental = true;
  const auto md = report_markdown(result, "cil");
  EXPECT_NE(md.find("2 tasks, 1 trained (partial run: the metrics cover the 1 trained)."), std::string::npos) << md;
  EXPECT_NE(md.find("| R[t][i] | x\\|y | z | A_t |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| after x\\|y | 90.00 | · | 90.00 |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| after z | · | · | · |\n"), std::string::npos) << md;
  EXPECT_NE(md.find("| BWT | · |"), std::string::npos) << md;
  EXPECT_NE(md.find("| A_T | 90.00 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("## Configuration"), std::string::npos);
}

TEST(EvalReport, SvgHasOneCellPerMeasuredEntryAndOneCurvePerTask) {
  auto result = three_tasks();
  result.tasks[1] = "b<&>\"";
  const auto svg = report_svg(result, "run");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(occurrences(svg, "<rect"), 8u);  // 9 entries, R[1][3] not measured
  EXPECT_EQ(occurrences(svg, "<rect class=\"cell\""), 8u);
  EXPECT_EQ(occurrences(svg, "<polyline"), 3u);
  EXPECT_EQ(occurrences(svg, "<circle"), 6u);  // task a at t = 1, 2, 3; b at 2, 3; c at 3
  EXPECT_EQ(occurrences(svg, "<text"), occurrences(svg, "</text>"));
  EXPECT_NE(svg.find(">95.0</text>"), std::string::npos);
  EXPECT_NE(svg.find("b&lt;&amp;&gt;&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("b<&"), std::string::npos);
  EXPECT_EQ(svg, report_svg(result, "run"));
}

TEST(EvalReport, WriteThenReportAgainIsStable) {
  const auto dir = scratch_dir("eval-report") + "/my-run/";
  auto result = three_tasks();
  report_write(result, dir);
  for (const char* file : {"matrix.json", "report.md", "report.svg"}) {
    EXPECT_TRUE(std::filesystem::exists(dir + file)) << file;
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 3);
  EXPECT_EQ(run_name(result, dir), "my-run");
  const auto md = bytes_of(dir + "report.md");
  EXPECT_EQ(md.rfind("# retain report: my-run\n", 0), 0u);
  const auto matrix = bytes_of(dir + "matrix.json");
  // What `retain report` does: read matrix.json, write everything again.
  report_write(run_result_read(dir + "matrix.json"), dir);
  EXPECT_EQ(bytes_of(dir + "matrix.json"), matrix);
  EXPECT_EQ(bytes_of(dir + "report.md"), md);
}

TEST(EvalReport, CompareTableHasOneRowPerRun) {
  auto seqft = three_tasks();
  seqft.settings = {{"method", {{"name", "seqft"}}}};
  RunResult cil = run_result_new({"a", "b"}, {});
  cil.R = {{90.0, kNull}, {80.0, 60.0}};
  cil.class_incremental = true;
  const auto table = compare_table({{"first", seqft}, {"second", cil}});
  EXPECT_EQ(table,
            "| run | method | tasks | AA | BWT | FWT | forgetting | clipped forgetting | A_T | Ā | ppl drift | train s "
            "| peak memory |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            "| first | seqft | 3/3 | 80.00 | -7.50 | 5.00 | 7.50 | 6.67 | · | · | 1.50 | 12.0 | 1.50 GiB |\n"
            // AA (80 + 60) / 2 = 70; BWT 80 − 90 = −10; clipped 10 / 2 = 5; forgetting 10; equal weights
            // without test sizes: A_1 = 90, A_2 = 70, Ā = 80.
            "| second | · | 2/2 | 70.00 | -10.00 | · | 10.00 | 5.00 | 70.00 | 80.00 | · | · | · |\n");
  const auto plain = compare_table({{"only", seqft}});
  EXPECT_EQ(plain.find("A_T"), std::string::npos);
}

// By seed: mean ± sample sd per group; the class-incremental columns, ppl drift and pretraining
// retention appear only when some run measured them. The retention before and after the stream
// round-trips through matrix.json and shows in report.md.
TEST(EvalReport, CompareBySeedShowsTheMeasuredColumns) {
  std::vector<std::pair<std::string, RunResult>> runs;
  for (int seed = 0; seed < 2; ++seed) {
    RunResult cil = run_result_new({"a", "b"}, {});
    cil.R = {{90.0, kNull}, {80.0, seed == 0 ? 60.0 : 40.0}};
    cil.class_incremental = true;
    cil.retention_before = 95.0;
    cil.retention_after = seed == 0 ? 70.0 : 80.0;
    cil.task_seconds = {1.0, 2.0};
    runs.emplace_back("lora-seed" + std::to_string(seed), cil);
  }
  const auto table = compare_table_by_seed(runs);
  EXPECT_EQ(table,
            "| run | method | seeds | LR | eff. batch | AA | BWT | FWT | A_T | Ā | forgetting | pretrain acc | train s "
            "| peak memory (MB) |\n"
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            // AA (80 + 60) / 2 = 70 and (80 + 40) / 2 = 60: 65 ± 7.07; A_2 the same; Ā (90 + 70) / 2 = 80
            // and (90 + 60) / 2 = 75; retention 70 and 80: 75 ± 7.07.
            "| lora | · | 2 | · | · | 65.00 ± 7.07 | -10.00 ± 0.00 | · | 65.00 ± 7.07 | 77.50 ± 3.54 | 10.00 ± 0.00 | "
            "75.00 ± 7.07 | 3 ± 0 | · |\n");
  auto text = three_tasks();
  const auto plain = compare_table_by_seed({{"seqft-seed0", text}});
  EXPECT_NE(plain.find("| ppl drift |"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("A_T"), std::string::npos) << plain;
  EXPECT_EQ(plain.find("pretrain acc"), std::string::npos) << plain;

  const auto dir = scratch_dir("eval-retention") + "/";
  report_write(runs[0].second, dir);
  const auto back = run_result_read(dir + "matrix.json");
  EXPECT_EQ(back.retention_before, 95.0);
  EXPECT_EQ(back.retention_after, 70.0);
  EXPECT_NE(bytes_of(dir + "report.md").find("| 95.00 | 70.00 |"), std::string::npos);
}

}  // namespace
}  // namespace retain::eval
