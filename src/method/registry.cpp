// registry.cpp - methods by the name a stream file gives in [method].name.
#include <functional>
#include <map>

#include "error.h"
#include "method/baselines.h"
#include "method/ewc.h"
#include "method/inflora.h"
#include "method/lora-family.h"
#include "method/lora-minus.h"
#include "method/migu.h"
#include "method/o-lora.h"
#include "method/osft.h"
#include "method/selective-lora.h"
#include "method/treelora.h"

namespace retain::method {

namespace {

using Factory = std::function<std::unique_ptr<Method>(config::Options&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> all = {
      {"seqft", seqft_create},
      {"replay", replay_create},
      {"joint", joint_create},
      {"seqlora", seqlora_create},
      {"o-lora", olora_create},
      {"inclora", inclora_create},
      {"inflora", inflora_create},
      {"ewc", ewc_create},
      {"osft", osft_create},
      {"migu", migu_create},
      {"lora-minus", lora_minus_create},
      {"selective-lora", selective_lora_create},
      {"treelora", treelora_create},
  };
  return all;
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& entry : factories()) names.push_back(entry.first);
  return names;
}

std::unique_ptr<Method> method_create(const std::string& name, config::Options& options) {
  auto it = factories().find(name);
  if (it == factories().end()) {
    std::string known;
    for (const auto& known_name : method_names()) known += (known.empty() ? "" : ", ") + known_name;
    fail("method", "unknown method '", name, "' (known: ", known, ")");
  }
  return it->second(options);
}

std::unique_ptr<Method> method_create(config::MethodConfig& config) {
  return method_create(config.name, config.options);
}

}  // namespace retain::method
