// registry.cpp - methods by the name a stream file gives in [method].name.
#include <functional>
#include <map>

#include "error.h"
#include "method/baselines.h"

namespace retain::method {

namespace {

using Factory = std::function<std::unique_ptr<Method>(config::Options&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> all = {
      {"seqft", seqft_create},
      {"replay", replay_create},
      {"joint", joint_create},
  };
  return all;
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.first);
  return names;
}

std::unique_ptr<Method> method_create(config::MethodConfig& config) {
  auto it = factories().find(config.name);
  if (it == factories().end()) {
    std::string known;
    for (const auto& name : method_names()) known += (known.empty() ? "" : ", ") + name;
    fail("method", "unknown method '", config.name, "' (known: ", known, ")");
  }
  return it->second(config.options);
}

}  // namespace retain::method
