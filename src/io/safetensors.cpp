// safetensors.cpp - .safetensors files and sharded Hugging Face checkpoints as libtorch tensors.
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <set>
#include <utility>
#include <vector>

#include "error.h"
#include "io/atomic-file.h"
#include "io/file-read.h"
#include "io/safetensors-header.h"

namespace retain::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// Indexed by Dtype.
constexpr std::pair<Dtype, torch::ScalarType> kScalarTypes[] = {
    {Dtype::BOOL, torch::kBool}, {Dtype::U8, torch::kByte},   {Dtype::I8, torch::kChar},
    {Dtype::I16, torch::kShort}, {Dtype::F16, torch::kHalf},  {Dtype::BF16, torch::kBFloat16},
    {Dtype::I32, torch::kInt},   {Dtype::F32, torch::kFloat}, {Dtype::F64, torch::kDouble},
    {Dtype::I64, torch::kLong}};

torch::ScalarType scalar_type(Dtype dtype) { return kScalarTypes[static_cast<size_t>(dtype)].second; }

Dtype dtype_of(const torch::Tensor& tensor, const std::string& path, const std::string& name) {
  for (const auto& [d, s] : kScalarTypes) {
    if (s == tensor.scalar_type()) return d;
  }
  fail("safetensors", path, ": tensor '", name, "' has dtype ", tensor.scalar_type(),
       ", which retain does not write to safetensors");
}

// A whole file, mapped copy-on-write: PROT_WRITE so that an in-place op on a loaded tensor gets
// private pages instead of a segfault, MAP_NORESERVE so that a file larger than RAM + swap maps.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("safetensors", path, ": cannot open: ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("safetensors", path, ": not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    // mmap refuses an empty file; the header parser rejects it anyway.
    void* data = size_ ? ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0) : nullptr;
    const int error = errno;
    ::close(fd);  // the mapping keeps the file
    if (data == MAP_FAILED) fail("safetensors", path, ": cannot map: ", std::strerror(error));
    data_ = static_cast<uint8_t*>(data);
  }
  ~MappedFile() {
    if (data_) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// model.safetensors.index.json's "weight_map": tensor -> shard file beside the index.
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  json index;
  try {
    index = json::parse(file_read(index_path, "checkpoint"));
  } catch (const json::exception& e) {
    fail("checkpoint", index_path, ": not valid JSON: ", e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail("checkpoint", index_path, ": has no \"weight_map\" object");
  }
  std::map<std::string, std::string> weight_map;
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    // Only a plain file name: an index must not make us read files elsewhere.
    const std::string name = shard.is_string() ? shard.get<std::string>() : "";
    if (name.empty() || name == "." || name == ".." || fs::path(name).filename() != name) {
      fail("checkpoint", index_path, ": tensor '", tensor, "' is mapped to ", shard.dump(),
           ", not a file name in the same folder");
    }
    weight_map[tensor] = name;
  }
  if (weight_map.empty()) fail("checkpoint", index_path, ": \"weight_map\" lists no tensor");
  return weight_map;
}

TensorMap load_sharded(const fs::path& dir) {
  const std::string index_path = (dir / kIndexFile).string();
  const auto weight_map = read_weight_map(index_path);
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : weight_map) shards.insert(shard);

  TensorMap tensors;
  std::map<std::string, std::string> found_in;  // tensor -> the shard that holds it
  for (const auto& shard : shards) {
    const std::string path = (dir / shard).string();
    SafetensorsFile file = safetensors_load(path);
    for (auto& [name, tensor] : file.tensors) {
      const auto [it, fresh] = found_in.emplace(name, path);
      if (!fresh) fail("checkpoint", index_path, ": tensor '", name, "' is in both ", it->second, " and ", path);
      tensors.emplace(name, std::move(tensor));
    }
  }
  for (const auto& [name, shard] : weight_map) {
    const std::string path = (dir / shard).string();
    const auto it = found_in.find(name);
    if (it == found_in.end()) {
      fail("checkpoint", index_path, ": tensor '", name, "' is listed in the index but missing from ", path);
    }
    if (it->second != path) {
      fail("checkpoint", index_path, ": tensor '", name, "' is listed under ", path, " but is in ", it->second);
    }
  }
  return tensors;
}

// Removes the weight files of an earlier save that `keep` does not name.
void remove_stale(const fs::path& dir, const std::set<std::string>& keep) {
  static const std::regex shard_name(R"(model-\d{5}-of-\d{5}\.safetensors)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const bool weights = name == kSingleFile || name == kIndexFile || std::regex_match(name, shard_name);
    if (weights && !keep.count(name)) fs::remove(entry.path());
  }
}

}  // namespace

SafetensorsFile safetensors_load(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  SafetensorsHeader header = safetensors_header_parse(file->data(), file->size(), path);
  SafetensorsFile out;
  out.metadata = std::move(header.metadata);
  for (const auto& t : header.tensors) {
    uint8_t* data = file->data() + header.data_start + t.begin;
    const size_t bytes = t.end - t.begin;
    // torch takes a bool byte to be 0 or 1; any other value is undefined behaviour later on.
    if (t.dtype == Dtype::BOOL && std::any_of(data, data + bytes, [](uint8_t b) { return b > 1; })) {
      fail("safetensors", path, ": tensor '", t.name, "' is BOOL but holds bytes other than 0 and 1");
    }
    const auto options = torch::TensorOptions().dtype(scalar_type(t.dtype));
    torch::Tensor tensor;
    if (reinterpret_cast<uintptr_t>(data) % dtype_size(t.dtype) == 0) {
      tensor = torch::from_blob(
          data, t.shape, [file](void*) {}, options);
    } else {
      // Writers that do not pad the header (MLX) leave data unaligned, which torch cannot view.
      tensor = torch::empty(t.shape, options);
      if (bytes > 0) std::memcpy(tensor.data_ptr(), data, bytes);
    }
    out.tensors.emplace(t.name, std::move(tensor));
  }
  return out;
}

void safetensors_save(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<TensorEntry, const torch::Tensor*>> items;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail("safetensors", path, ": '__metadata__' cannot name a tensor");
    if (!tensor.defined()) fail("safetensors", path, ": tensor '", name, "' is undefined");
    items.push_back({TensorEntry{name, dtype_of(tensor, path, name), tensor.sizes().vec(), 0, 0}, &tensor});
  }
  // The Rust writer's order: later Dtype first, then by name (the order `tensors` already has).
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first.dtype > b.first.dtype; });
  std::vector<TensorEntry> entries;
  uint64_t offset = 0;
  for (auto& [entry, tensor] : items) {
    entry.begin = offset;
    offset += static_cast<uint64_t>(tensor->numel()) * dtype_size(entry.dtype);
    entry.end = offset;
    entries.push_back(entry);
  }
  const std::string header = safetensors_header_build(entries, metadata);

  AtomicFile out(path);
  out.write(header.data(), header.size());
  for (const auto& [entry, tensor] : items) {
    // One tensor at a time, so saving from a GPU needs host memory for the largest tensor only.
    const torch::Tensor cpu = tensor->detach().to(torch::kCPU).contiguous();
    out.write(cpu.data_ptr(), entry.end - entry.begin);
  }
  out.commit();
}

TensorMap checkpoint_load(const std::string& model_dir) {
  const fs::path dir(model_dir);
  // transformers' preference: the single file first, then the index.
  if (fs::exists(dir / kSingleFile)) return safetensors_load((dir / kSingleFile).string()).tensors;
  if (fs::exists(dir / kIndexFile)) return load_sharded(dir);
  fail("checkpoint", model_dir, ": has neither ", kSingleFile, " nor ", kIndexFile);
}

void checkpoint_save(const std::string& model_dir, const TensorMap& tensors, uint64_t max_shard_bytes) {
  // huggingface_hub's split (split_torch_state_dict_into_shards): in order, start a new shard when
  // the next tensor would push this one past the limit; a tensor over the limit goes alone.
  std::vector<TensorMap> shards;
  TensorMap current;
  uint64_t current_bytes = 0;
  uint64_t total_bytes = 0;
  for (const auto& [name, tensor] : tensors) {
    const uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    total_bytes += bytes;
    if (bytes > max_shard_bytes) {
      shards.push_back({{name, tensor}});
      continue;
    }
    if (current_bytes + bytes > max_shard_bytes) {
      shards.push_back(std::move(current));
      current.clear();
      current_bytes = 0;
    }
    current.emplace(name, tensor);
    current_bytes += bytes;
  }
  if (!current.empty() || shards.empty()) shards.push_back(std::move(current));

  const fs::path dir(model_dir);
  fs::create_directories(dir);
  if (shards.size() == 1) {
    safetensors_save((dir / kSingleFile).string(), shards[0]);
    remove_stale(dir, {kSingleFile});
    return;
  }
  std::set<std::string> written = {kIndexFile};
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    safetensors_save((dir / name).string(), shards[i]);
    written.insert(name);
    for (const auto& [tensor, value] : shards[i]) weight_map[tensor] = name;
  }
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  // As transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n".
  const std::string text = index.dump(2, ' ', /*ensure_ascii=*/true) + "\n";
  AtomicFile out((dir / kIndexFile).string());
  out.write(text.data(), text.size());
  out.commit();
  remove_stale(dir, written);
}

}  // namespace retain::io
