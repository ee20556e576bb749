// prepare-metadata.cpp - the two files that describe a prepared folder: tasks.toml (written with the
// TOML writer) and manifest.json.
#include <sstream>
#include <utility>

#include "config/toml-writer.h"
#include "data/prepare-internal.h"

namespace retain::data {

using config::toml_string;

std::string tasks_toml(const std::string& name, const PrepareOptions& options, const Build& build) {
  std::ostringstream toml;
  toml << "# tasks.toml - the tasks of `retain data prepare " << name << " --seed " << options.seed << "`.\n"
       << "# These are the [[task]] tables of a stream file. Relative paths are relative to this folder, so a\n"
       << "# stream file saved here (with [model], [method], [train]) can hold them as they are.\n";
  for (const auto& task : build.tasks) {
    toml << "\n[[task]]\n";
    toml << "name = " << toml_string(task.name) << "\n";
    toml << "kind = " << toml_string(std::string(config::word_of(task.kind))) << "\n";
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
    if (task.kind == config::TaskKind::Generation || task.kind == config::TaskKind::TextClassification) {
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
    entry["kind"] = std::string(config::word_of(task.kind));
    entry["metric"] = task.metric;
    entry["files"] = nlohmann::ordered_json::object();
    for (const auto& [key, value] : {std::pair<const char*, const std::string&>{"train", task.train},
                                     {"train_labels", task.train_labels},
                                     {"valid", task.valid},
                                     {"test", task.test},
                                     {"test_labels", task.test_labels}}) {
      if (!value.empty()) entry["files"][key] = value;
    }
    entry["counts"] = {{"train", count.train}, {"valid", count.valid}, {"test", count.test}};
    if (!count.classes.empty()) entry["classes"] = count.classes;
    manifest["tasks"].push_back(entry);
  }
  for (const auto& [key, value] : build.facts.items()) manifest[key] = value;
  return manifest.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace retain::data
