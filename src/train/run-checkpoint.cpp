// run-checkpoint.cpp - see run-checkpoint.h. Layout of RUN/checkpoint/:
//   model.safetensors  optimizer.safetensors  method.safetensors  head.safetensors  state.json
// A new checkpoint is written to checkpoint.tmp/; then checkpoint/ becomes checkpoint.old/,
// checkpoint.tmp/ becomes checkpoint/, and checkpoint.old/ is removed. Reading takes checkpoint/,
// or checkpoint.old/ when a crash fell between the two renames.
#include "train/run-checkpoint.h"

#include <filesystem>
#include <fstream>

#include "error.h"
#include "io/atomic-file.h"

namespace retain::train {

namespace fs = std::filesystem;

namespace {

constexpr int kFormat = 1;

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
  if (state.value("format", 0) != kFormat) fail("checkpoint", state_path, ": unknown checkpoint format");
  RunCheckpoint checkpoint;
  try {
    checkpoint.stage = state.at("stage").get<int64_t>();
    checkpoint.step = state.at("step").get<int64_t>();
    checkpoint.results = state.at("results");
    checkpoint.method.meta = state.at("method");
  } catch (const nlohmann::json::exception& e) {
    fail("checkpoint", state_path, ": ", e.what());
  }
  checkpoint.model = io::safetensors_load((dir / "model.safetensors").string()).tensors;
  checkpoint.optimizer = io::safetensors_load((dir / "optimizer.safetensors").string()).tensors;
  checkpoint.method.tensors = io::safetensors_load((dir / "method.safetensors").string()).tensors;
  if (fs::exists(dir / "head.safetensors")) checkpoint.head = io::safetensors_load((dir / "head.safetensors").string()).tensors;
  return checkpoint;
}

}  // namespace

void run_checkpoint_write(const std::string& run_dir, const RunCheckpoint& checkpoint) {
  const fs::path root(run_dir);
  const auto tmp = root / "checkpoint.tmp", current = root / "checkpoint", old = root / "checkpoint.old";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  io::safetensors_save((tmp / "model.safetensors").string(), checkpoint.model, {});
  io::safetensors_save((tmp / "optimizer.safetensors").string(), checkpoint.optimizer, {});
  io::safetensors_save((tmp / "method.safetensors").string(), checkpoint.method.tensors, {});
  io::safetensors_save((tmp / "head.safetensors").string(), checkpoint.head, {});
  nlohmann::json state = {{"format", kFormat},
                          {"stage", checkpoint.stage},
                          {"step", checkpoint.step},
                          {"results", checkpoint.results},
                          {"method", checkpoint.method.meta}};
  io::write_file_atomic((tmp / "state.json").string(), state.dump(1));
  fs::remove_all(old);
  if (fs::exists(current)) fs::rename(current, old);
  fs::rename(tmp, current);
  io::sync_folder_of(current.string());
  fs::remove_all(old);
}

std::optional<RunCheckpoint> run_checkpoint_read(const std::string& run_dir) {
  const fs::path root(run_dir);
  for (const char* name : {"checkpoint", "checkpoint.old"}) {
    if (fs::exists(root / name / "state.json")) return read_from(root / name);
  }
  return std::nullopt;
}

}  // namespace retain::train
