// prepare-split-opencv-digits.cpp - Split OpenCV digits: OpenCV's digits.png (Debian package
// opencv-doc; a 2000x1000 grayscale sheet of 100x50 cells of 20x20 pixels, 500 of each digit, digit
// d in cell rows 5d..5d+4), each cell centred in 28x28 as MNIST centres its 20x20 digits, in 5
// image-classification tasks of 2 digits (0-1, ..., 8-9). The digits are handwritten at 20x20 (they
// look MNIST-derived), so this is a second digit domain close to MNIST, not a set disjoint from it.
// Per digit, the seed shuffles the 500 cells and deals the test set first (default 100 per digit),
// training from the rest.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "data/png.h"
#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "error.h"

namespace retain::data {

namespace {

const char* const kSheet = "/usr/share/doc/opencv-doc/examples/data/digits.png";
constexpr int64_t kCell = 20, kSide = 28, kColumns = 100, kRowsPerDigit = 5, kDigits = 10, kPerTask = 2;

// Appends cell (row, column) of the sheet, centred in kSide x kSide, to `images`.
void add_cell(const GrayImage& sheet, int64_t row, int64_t column, int64_t digit, ImageExamples& images) {
  const int64_t border = (kSide - kCell) / 2;
  std::vector<uint8_t> image(kSide * kSide, 0);
  for (int64_t y = 0; y < kCell; ++y) {
    for (int64_t x = 0; x < kCell; ++x) {
      image[(y + border) * kSide + x + border] = sheet.pixels[(row * kCell + y) * sheet.width + column * kCell + x];
    }
  }
  images.pixels.insert(images.pixels.end(), image.begin(), image.end());
  images.labels.push_back(digit);
}

}  // namespace

Build build_split_opencv_digits(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 0, kPerTask * 100);  // per task; train 0: all the test set leaves
  const GrayImage sheet = png_read_gray8(kSheet);
  if (sheet.width != kColumns * kCell || sheet.height != kDigits * kRowsPerDigit * kCell) {
    fail("data", kSheet, ": ", sheet.width, "x", sheet.height, " pixels; expected ", kColumns * kCell, "x",
         kDigits * kRowsPerDigit * kCell, " (100x50 cells of 20x20)");
  }
  Build build;
  build.sources = {kSheet};
  const int64_t per_digit = kColumns * kRowsPerDigit;
  const int64_t test_per_digit = std::min(per_digit, caps.test / kPerTask);
  const int64_t train_per_digit =
      caps.train > 0 ? std::min(per_digit - test_per_digit, caps.train / kPerTask) : per_digit - test_per_digit;
  build.settings = {
      {"train_per_digit", train_per_digit}, {"test_per_digit", test_per_digit}, {"classes_per_task", kPerTask}};
  for (int64_t first = 0; first < kDigits; first += kPerTask) {
    config::TaskConfig task;
    task.name = "digits-" + std::to_string(first) + "-" + std::to_string(first + kPerTask - 1);
    task.kind = config::TaskKind::ImageClassification;
    task.metric = "accuracy";
    ImageExamples train, test;
    train.rows = train.cols = test.rows = test.cols = kSide;
    std::vector<std::string> names;
    for (int64_t digit = first; digit < first + kPerTask; ++digit) {
      task.classes.push_back(digit);
      names.push_back(std::to_string(digit));
      std::vector<int64_t> cells(per_digit);
      for (int64_t i = 0; i < per_digit; ++i) cells[i] = i;
      seeded_shuffle(cells, derive_seed(options.seed, task.name + "/" + names.back()));
      for (int64_t i = 0; i < test_per_digit + train_per_digit; ++i) {
        const int64_t row = digit * kRowsPerDigit + cells[i] / kColumns, column = cells[i] % kColumns;
        add_cell(sheet, row, column, digit, i < test_per_digit ? test : train);
      }
    }
    add_image_task(build, task, train, test, names);
  }
  return build;
}

}  // namespace retain::data
