#include "io/hf-config.h"

#include <cmath>
#include <cstdint>
#include <optional>

#include "error.h"
#include "io/file-read.h"

namespace retain::io {

namespace {

const char* json_type_name(const nlohmann::json& value) { return value.type_name(); }

// The value as an int64 when it is one: an integer in range, or a whole float in range (4096.0).
// Unsigned integers past INT64_MAX and floats past its range are not (a cast would be undefined).
std::optional<int64_t> as_int64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace

HfConfig HfConfig::read(const std::string& path) { return parse(file_read(path, "config"), path); }

HfConfig HfConfig::parse(const std::string& json_text, const std::string& path) {
  HfConfig config;
  config.path_ = path;
  try {
    config.json_ = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    fail("config", path, ": invalid JSON (", e.what(), ")");
  }
  if (!config.json_.is_object()) fail("config", path, ": expected a JSON object at the top level");
  return config;
}

bool HfConfig::has(const std::string& key) const {
  auto it = json_.find(key);
  return it != json_.end() && !it->is_null();
}

const nlohmann::json& HfConfig::at(const std::string& key) const {
  auto it = json_.find(key);
  if (it == json_.end() || it->is_null()) fail("config", path_, ": missing required field '", key, "'");
  return *it;
}

int64_t HfConfig::get_int(const std::string& key) const {
  const auto& value = at(key);
  // 4096.0 is accepted as an integer; 0.5 is not.
  if (const auto integer = as_int64(value)) return *integer;
  fail("config", path_, ": field '", key, "' must be an integer, got ", json_type_name(value), " ", value.dump());
}

double HfConfig::get_double(const std::string& key) const {
  const auto& value = at(key);
  if (!value.is_number()) fail("config", path_, ": field '", key, "' must be a number, got ", json_type_name(value));
  return value.get<double>();
}

bool HfConfig::get_bool(const std::string& key) const {
  const auto& value = at(key);
  if (!value.is_boolean()) fail("config", path_, ": field '", key, "' must be true or false, got ", value.dump());
  return value.get<bool>();
}

std::string HfConfig::get_string(const std::string& key) const {
  const auto& value = at(key);
  if (!value.is_string()) fail("config", path_, ": field '", key, "' must be a string, got ", json_type_name(value));
  return value.get<std::string>();
}

int64_t HfConfig::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }
double HfConfig::get_double(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}
bool HfConfig::get_bool(const std::string& key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }
std::string HfConfig::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

int64_t HfConfig::get_positive_int(const std::string& key) const {
  const int64_t value = get_int(key);
  if (value <= 0) fail("config", path_, ": field '", key, "' must be positive, got ", value);
  return value;
}

int64_t HfConfig::get_positive_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_positive_int(key) : fallback;
}

double HfConfig::get_positive_double(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const double value = get_double(key);
  if (!(value > 0) || !std::isfinite(value))
    fail("config", path_, ": field '", key, "' must be positive, got ", at(key).dump());
  return value;
}

std::vector<int64_t> HfConfig::get_int_list(const std::string& key) const {
  if (!has(key)) return {};
  const auto& value = at(key);
  if (value.is_number_integer()) {
    if (const auto integer = as_int64(value)) return {*integer};
  }
  std::vector<int64_t> out;
  if (value.is_array()) {
    for (const auto& item : value) {
      const auto integer = item.is_number_integer() ? as_int64(item) : std::nullopt;
      if (!integer) break;
      out.push_back(*integer);
    }
    if (out.size() == value.size()) return out;
  }
  fail("config", path_, ": field '", key, "' must be an integer or a list of integers, got ", value.dump());
}

RopeConfig HfConfig::rope() const {
  RopeConfig rope;
  // The transformers-5 layout keeps everything in "rope_parameters"; the transformers-4 layout has
  // "rope_theta" at the top and the scaling (or null) in "rope_scaling".
  const nlohmann::json* params = nullptr;
  std::string where;
  if (has("rope_parameters")) {
    params = &at("rope_parameters");
    where = "rope_parameters";
  } else {
    rope.theta = get_positive_double("rope_theta", rope.theta);
    if (has("rope_scaling")) {
      params = &at("rope_scaling");
      where = "rope_scaling";
    }
  }
  if (params == nullptr) return rope;
  if (!params->is_object()) fail("config", path_, ": field '", where, "' must be an object, got ", params->dump());

  auto number = [&](const char* key, double fallback, bool required) {
    auto it = params->find(key);
    if (it == params->end() || it->is_null()) {
      if (required) fail("config", path_, ": ", where, " of rope_type '", rope.type, "' needs '", key, "'");
      return fallback;
    }
    if (!it->is_number()) fail("config", path_, ": field '", where, ".", key, "' must be a number, got ", it->dump());
    const double value = it->get<double>();
    if (!(value > 0) || !std::isfinite(value)) {
      fail("config", path_, ": field '", where, ".", key, "' must be positive, got ", it->dump());
    }
    return value;
  };
  for (const auto& [key, value] : params->items()) {
    if (value.is_object()) {
      fail("config", path_, ": per-layer-type rope parameters ('", where, ".", key, "') are not supported");
    }
  }
  auto type = params->find("rope_type");
  if (type == params->end()) type = params->find("type");  // older transformers-4 configs
  if (type != params->end() && !type->is_null()) {
    if (!type->is_string()) fail("config", path_, ": field '", where, ".rope_type' must be a string");
    rope.type = type->get<std::string>();
  }
  rope.theta = number("rope_theta", rope.theta, false);
  if (rope.type == "default") {
    return rope;
  }
  if (rope.type == "linear") {
    rope.factor = number("factor", 1.0, true);
    return rope;
  }
  if (rope.type == "llama3") {
    rope.factor = number("factor", 0, true);
    rope.low_freq_factor = number("low_freq_factor", 0, true);
    rope.high_freq_factor = number("high_freq_factor", 0, true);
    rope.original_max_position_embeddings = static_cast<int64_t>(number("original_max_position_embeddings", 0, true));
    if (rope.high_freq_factor <= rope.low_freq_factor) {
      fail("config", path_, ": ", where, ": high_freq_factor must be larger than low_freq_factor");
    }
    return rope;
  }
  refuse(where + ".rope_type", rope.type, "default, linear, llama3");
}

void HfConfig::architecture_check(std::initializer_list<const char*> supported) const {
  if (!has("architectures")) return;
  const auto& list = at("architectures");
  if (!list.is_array() || list.empty() || !list[0].is_string()) {
    fail("config", path_, ": field 'architectures' must be a non-empty list of class names");
  }
  const auto name = list[0].get<std::string>();
  std::string names;
  for (const char* candidate : supported) {
    if (name == candidate) return;
    names += (names.empty() ? "" : ", ") + std::string(candidate);
  }
  refuse("architectures[0]", name, names);
}

void HfConfig::refuse(const std::string& key, const std::string& value, const std::string& supported) const {
  fail("config", path_, ": ", key, " '", value, "' is not supported (supported: ", supported, ")");
}

}  // namespace retain::io
