// prepare-split-fashion-mnist.cpp - Split Fashion-MNIST: 5 image-classification tasks of 2 classes
// (0-1, 2-3, 4-5, 6-7, 8-9) over the IDX files of the Debian package dataset-fashion-mnist, which the
// tasks point at where they are installed (nothing is copied). IDX files carry no held-out part, so
// there is no valid split; the seed does not matter here (the run's seed orders the examples).
#include <algorithm>
#include <cstdint>
#include <string>

#include "data/idx.h"
#include "data/prepare-internal.h"
#include "error.h"

namespace retain::data {

namespace {

const char* const kDir = "/usr/share/datasets/fashion-mnist";
const char* const kClassNames[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                   "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
constexpr int64_t kClasses = 10, kClassesPerTask = 2;

}  // namespace

Build build_split_fashion_mnist(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 0, 0);  // 0: every example of the task's classes
  const std::string dir = kDir;
  const std::string train_images = dir + "/train-images-idx3-ubyte.gz",
                    train_labels = dir + "/train-labels-idx1-ubyte.gz";
  const std::string test_images = dir + "/t10k-images-idx3-ubyte.gz", test_labels = dir + "/t10k-labels-idx1-ubyte.gz";
  const auto train = idx_read_labels(train_labels), test = idx_read_labels(test_labels);
  for (const auto* labels : {&train, &test}) {
    const auto [low, high] = std::minmax_element(labels->begin(), labels->end());
    if (labels->empty() || *low < 0 || *high >= kClasses) {
      fail("data", labels == &train ? train_labels : test_labels, ": labels outside 0..", kClasses - 1);
    }
  }
  Build build;
  build.sources = {train_images, train_labels, test_images, test_labels};
  build.settings = {{"max_train", caps.train}, {"max_test", caps.test}, {"classes_per_task", kClassesPerTask}};
  for (int64_t c = 0; c < kClasses; ++c) build.facts["class_names"][std::to_string(c)] = kClassNames[c];
  for (int64_t first = 0; first < kClasses; first += kClassesPerTask) {
    config::TaskConfig task;
    task.name = "fmnist-" + std::to_string(first) + "-" + std::to_string(first + kClassesPerTask - 1);
    task.kind = config::TaskKind::ImageClassification;
    task.train = train_images;
    task.train_labels = train_labels;
    task.test = test_images;
    task.test_labels = test_labels;
    task.metric = "accuracy";
    task.max_train = caps.train;
    task.max_test = caps.test;
    PreparedTask count{task.name, task.kind, task.metric, 0, 0, 0, {}};
    for (int64_t c = first; c < first + kClassesPerTask; ++c) {
      task.classes.push_back(c);
      count.classes.push_back(kClassNames[c]);
      count.train += std::count(train.begin(), train.end(), c);
      count.test += std::count(test.begin(), test.end(), c);
    }
    if (caps.train > 0) count.train = std::min(count.train, caps.train);
    if (caps.test > 0) count.test = std::min(count.test, caps.test);
    build.tasks.push_back(task);
    build.counts.push_back(count);
  }
  return build;
}

}  // namespace retain::data
