// run-checkpoint.cpp - see run-checkpoint.h. Layout of RUN/checkpoint/:
//   model.safetensors  optimizer.safetensors  method.safetensors  head.safetensors  state.json
// A new checkpoint is written to checkpoint.tmp/ and swapped into place by io::replace_folder, so
// checkpoint/ is always a complete checkpoint (or, on a file system without an atomic swap,
// checkpoint.old/ is, which reading falls back to).
#include "train/run-checkpoint.h"

#include <filesystem>
#include <fstream>

#include "error.h"
#include "io/atomic-file.h"
#include "io/atomic-folder.h"

namespace retain::train {

namespace fs = std::filesystem;

namespace {

// 2: "results" is matrix.json's content (eval/run-result.h).
constexpr int kFormat = 2;

RunCheckpoint read_from(const fs::path& dir) {
  const auto state_path = (dir / "state.json").string();
  std::ifstream in(state_path);
  if (!in) fail("checkpoint", state_path, ": cannot open the file");
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint", state_path, ": not valid JSON: ", e.what());
  }
  const auto format = state.value("format", 0);
  if (format != kFormat) {
    fail("checkpoint", state_path, ": checkpoint format ", format, ", this retain reads format ", kFormat,
         "; start the run over with --force");
  }
  RunCheckpoint checkpoint;
  try {
    checkpoint.stage = state.at("stage").get<int64_t>();
    checkpoint.step = state.at("step").get<int64_t>();
    checkpoint.method.meta = state.at("method");
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint", state_path, ": ", e.what());
  }
  checkpoint.results = eval::run_result_from_json(state.contains("results") ? state["results"] : nlohmann::json(),
                                                  state_path + " results");
  checkpoint.model = io::safetensors_load((dir / "model.safetensors").string()).tensors;
  checkpoint.optimizer = io::safetensors_load((dir / "optimizer.safetensors").string()).tensors;
  checkpoint.method.tensors = io::safetensors_load((dir / "method.safetensors").string()).tensors;
  if (fs::exists(dir / "head.safetensors"))
    checkpoint.head = io::safetensors_load((dir / "head.safetensors").string()).tensors;
  return checkpoint;
}

}  // namespace

void run_checkpoint_write(const std::string& run_dir, const RunCheckpoint& checkpoint) {
  const fs::path root(run_dir);
  const auto tmp = root / "checkpoint.tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  io::safetensors_save((tmp / "model.safetensors").string(), checkpoint.model, {});
  io::safetensors_save((tmp / "optimizer.safetensors").string(), checkpoint.optimizer, {});
  io::safetensors_save((tmp / "method.safetensors").string(), checkpoint.method.tensors, {});
  io::safetensors_save((tmp / "head.safetensors").string(), checkpoint.head, {});
  nlohmann::json state = {{"format", kFormat},
                          {"stage", checkpoint.stage},
                          {"step", checkpoint.step},
                          {"results", eval::run_result_to_json(checkpoint.results)},
                          {"method", checkpoint.method.meta}};
  io::write_file_atomic((tmp / "state.json").string(), state.dump(1));
  io::replace_folder(tmp.string(), (root / "checkpoint").string());
}

std::optional<RunCheckpoint> run_checkpoint_read(const std::string& run_dir) {
  const auto dir = io::folder_or_previous((fs::path(run_dir) / "checkpoint").string());
  if (!dir) return std::nullopt;
  return read_from(*dir);
}

}  // namespace retain::train
