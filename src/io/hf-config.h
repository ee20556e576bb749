// hf-config.h - read a Hugging Face config.json with typed accessors whose errors name the file
// and the key. Each architecture reads the fields it needs (model/*-options); this file knows
// only the parts shared by several: the two rope layouts and the token ids.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace retain::io {

// Rotary position embedding parameters, from either config layout:
//  transformers 4: top-level "rope_theta" and "rope_scaling": {"rope_type"|"type": ..., ...}
//  transformers 5: "rope_parameters": {"rope_type": ..., "rope_theta": ..., ...}
struct RopeConfig {
  std::string type = "default";  // default | linear | llama3 (others are refused)
  double theta = 10000.0;
  double factor = 1.0;                           // linear, llama3
  double low_freq_factor = 1.0;                  // llama3
  double high_freq_factor = 4.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3
};

class HfConfig {
 public:
  // Reads `path` (config.json, generation_config.json, ...). Invalid JSON or a non-object is an
  // error naming the file.
  static HfConfig read(const std::string& path);
  static HfConfig parse(const std::string& json_text, const std::string& path);

  const std::string& path() const { return path_; }
  const nlohmann::json& json() const { return json_; }
  // "model_type"; an error naming the file when absent (generation_config.json has none).
  std::string model_type() const { return get_string("model_type"); }

  bool has(const std::string& key) const;  // present and not null
  // Required fields: a missing key or a wrong type is an error naming the file and key.
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  // Optional fields: the default when absent or null, an error on a wrong type.
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  // Sizes, counts and scales that cannot be zero or negative: as above, and a value <= 0 (or not
  // finite) is an error naming the file, the key and the value.
  int64_t get_positive_int(const std::string& key) const;
  int64_t get_positive_int(const std::string& key, int64_t fallback) const;
  double get_positive_double(const std::string& key, double fallback) const;
  // An int or a list of ints ("eos_token_id": 2 or [128001, 128009]); empty when absent.
  std::vector<int64_t> get_int_list(const std::string& key) const;

  RopeConfig rope() const;

  // Refuses a config whose "architectures"[0] (when present) is not one of `supported`, e.g. a
  // LlamaForSequenceClassification checkpoint where only the causal-LM head is implemented.
  void architecture_check(std::initializer_list<const char*> supported) const;

  // Refuses a value we do not implement, naming the file, the key and what is supported.
  [[noreturn]] void refuse(const std::string& key, const std::string& value, const std::string& supported) const;

 private:
  const nlohmann::json& at(const std::string& key) const;
  std::string path_;
  nlohmann::json json_;
};

}  // namespace retain::io
