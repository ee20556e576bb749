#include "train/checkpoint-state.h"

#include "error.h"

namespace retain::train {

namespace {

// 2: "results" is matrix.json's content (eval/run-result.h).
constexpr int kFormat = 2;

}  // namespace

std::string checkpoint_state_to_json(const CheckpointState& state) {
  const nlohmann::json json = {{"format", kFormat},
                               {"stage", state.stage},
                               {"step", state.step},
                               {"results", eval::run_result_to_json(state.results)},
                               {"method", state.method}};
  return json.dump(1);
}

CheckpointState checkpoint_state_parse(const std::string& text, const std::string& path) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint", path, ": not valid JSON: ", e.what());
  }
  if (!json.is_object()) fail("checkpoint", path, ": expected a JSON object");
  const auto format = json.contains("format") && json["format"].is_number_integer() ? json["format"].get<int64_t>() : 0;
  if (format != kFormat) {
    fail("checkpoint", path, ": checkpoint format ", format, ", this retain reads format ", kFormat,
         "; start the run over with --force");
  }
  CheckpointState state;
  for (const char* key : {"stage", "step"}) {
    if (!json.contains(key) || !json[key].is_number_integer()) {
      fail("checkpoint", path, ": \"", key, "\" must be a whole number");
    }
  }
  state.stage = json["stage"].get<int64_t>();
  state.step = json["step"].get<int64_t>();
  if (!json.contains("method") || !json["method"].is_object()) {
    fail("checkpoint", path, ": 'method' must be an object");
  }
  state.method = json["method"];
  state.results =
      eval::run_result_from_json(json.contains("results") ? json["results"] : nlohmann::json(), path + " results");
  return state;
}

}  // namespace retain::train
