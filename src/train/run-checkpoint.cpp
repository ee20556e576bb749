// run-checkpoint.cpp - see run-checkpoint.h. Layout of RUN/checkpoint/:
//   model.safetensors  optimizer.safetensors  method.safetensors  head.safetensors  state.json
// A new checkpoint is written to checkpoint.tmp/ and swapped into place by io::replace_folder, so
// checkpoint/ is always a complete checkpoint (or, on a file system without an atomic swap,
// checkpoint.old/ is, which reading falls back to).
#include "train/run-checkpoint.h"

#include <filesystem>

#include "error.h"
#include "io/atomic-file.h"
#include "io/atomic-folder.h"
#include "io/file-read.h"
#include "train/checkpoint-state.h"

namespace retain::train {

namespace fs = std::filesystem;

namespace {

RunCheckpoint read_from(const fs::path& dir) {
  const auto state_path = (dir / "state.json").string();
  auto state = checkpoint_state_parse(io::file_read(state_path, "checkpoint"), state_path);
  RunCheckpoint checkpoint;
  checkpoint.stage = state.stage;
  checkpoint.step = state.step;
  checkpoint.method.meta = std::move(state.method);
  checkpoint.results = std::move(state.results);
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
  const CheckpointState state{checkpoint.stage, checkpoint.step, checkpoint.method.meta, checkpoint.results};
  io::write_file_atomic((tmp / "state.json").string(), checkpoint_state_to_json(state));
  io::replace_folder(tmp.string(), (root / "checkpoint").string());
}

std::optional<RunCheckpoint> run_checkpoint_read(const std::string& run_dir) {
  const auto dir = io::folder_or_previous((fs::path(run_dir) / "checkpoint").string());
  if (!dir) return std::nullopt;
  return read_from(*dir);
}

bool run_checkpoint_exists(const std::string& run_dir) {
  return io::folder_or_previous((fs::path(run_dir) / "checkpoint").string()).has_value();
}

}  // namespace retain::train
