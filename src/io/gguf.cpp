// gguf.cpp - the GGUF header, metadata and tensor table, every field checked against the file.
#include "io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

namespace retain::io {

namespace fs = std::filesystem;

namespace {

constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", 32, 18},
    {GgmlType::Q4_1, "Q4_1", 32, 20},
    {GgmlType::Q5_0, "Q5_0", 32, 22},
    {GgmlType::Q5_1, "Q5_1", 32, 24},
    {GgmlType::Q8_0, "Q8_0", 32, 34},
    {GgmlType::Q8_1, "Q8_1", 32, 40},
    {GgmlType::Q2_K, "Q2_K", 256, 84},
    {GgmlType::Q3_K, "Q3_K", 256, 110},
    {GgmlType::Q4_K, "Q4_K", 256, 144},
    {GgmlType::Q5_K, "Q5_K", 256, 176},
    {GgmlType::Q6_K, "Q6_K", 256, 210},
    {GgmlType::Q8_K, "Q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66},
    {GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
    {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98},
    {GgmlType::IQ1_S, "IQ1_S", 256, 50},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 18},
    {GgmlType::IQ3_S, "IQ3_S", 256, 110},
    {GgmlType::IQ2_S, "IQ2_S", 256, 82},
    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", 256, 56},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", 256, 54},
    {GgmlType::TQ2_0, "TQ2_0", 256, 66},
    {GgmlType::MXFP4, "MXFP4", 32, 17},
};

// No real file comes near these; they keep a hostile header from asking for absurd allocations.
constexpr uint64_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr uint64_t kMaxArrayDepth = 8;

// Reads little-endian values from [pos, end), failing with the file's name past the end.
class Cursor {
 public:
  Cursor(const GgufFile& file, const uint8_t* data, size_t size) : file_(file), data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }

  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string string(const std::string& what) {
    const uint64_t length = read<uint64_t>(what.c_str());
    if (length > left()) {
      file_.fail(what, " is ", length, " bytes long at byte ", pos_ - 8, ", past the end of the ", size_, "-byte file");
    }
    std::string text(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(length));
    pos_ += length;
    return text;
  }

  void need(uint64_t bytes, const std::string& what) const {
    if (bytes > left()) {
      file_.fail(what, " at byte ", pos_, " needs ", bytes, " bytes, but the ", size_, "-byte file ends there");
    }
  }

 private:
  const GgufFile& file_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// The smallest number of bytes one element of `type` takes in the file (a string: its length).
uint64_t min_value_bytes(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8:
    case GgufValueType::I8:
    case GgufValueType::BOOL: return 1;
    case GgufValueType::U16:
    case GgufValueType::I16: return 2;
    case GgufValueType::U32:
    case GgufValueType::I32:
    case GgufValueType::F32: return 4;
    case GgufValueType::U64:
    case GgufValueType::I64:
    case GgufValueType::F64:
    case GgufValueType::STRING: return 8;
    case GgufValueType::ARRAY: return 12;  // element type + count
  }
  return 1;
}

bool valid_value_type(uint32_t id) { return id <= static_cast<uint32_t>(GgufValueType::F64); }

GgufValue read_value(Cursor& in, const GgufFile& file, GgufValueType type, const std::string& key, uint64_t depth) {
  GgufValue v;
  v.type = type;
  const std::string what = "metadata '" + key + "'";
  switch (type) {
    case GgufValueType::U8: v.u = in.read<uint8_t>(what.c_str()); break;
    case GgufValueType::I8: v.i = in.read<int8_t>(what.c_str()); break;
    case GgufValueType::U16: v.u = in.read<uint16_t>(what.c_str()); break;
    case GgufValueType::I16: v.i = in.read<int16_t>(what.c_str()); break;
    case GgufValueType::U32: v.u = in.read<uint32_t>(what.c_str()); break;
    case GgufValueType::I32: v.i = in.read<int32_t>(what.c_str()); break;
    case GgufValueType::U64: v.u = in.read<uint64_t>(what.c_str()); break;
    case GgufValueType::I64: v.i = in.read<int64_t>(what.c_str()); break;
    case GgufValueType::F32: v.f = in.read<float>(what.c_str()); break;
    case GgufValueType::F64: v.f = in.read<double>(what.c_str()); break;
    case GgufValueType::BOOL: {
      const uint8_t b = in.read<uint8_t>(what.c_str());
      if (b > 1) file.fail(what, " is a bool holding ", static_cast<int>(b), " (only 0 and 1 are bools)");
      v.u = b;
      break;
    }
    case GgufValueType::STRING: v.s = in.string(what); break;
    case GgufValueType::ARRAY: {
      if (depth >= kMaxArrayDepth) file.fail(what, " nests arrays more than ", kMaxArrayDepth, " deep");
      const uint32_t element = in.read<uint32_t>(what.c_str());
      if (!valid_value_type(element)) file.fail(what, " is an array of unknown value type ", element);
      v.element_type = static_cast<GgufValueType>(element);
      const uint64_t count = in.read<uint64_t>(what.c_str());
      // Each element takes at least min_value_bytes: a count the rest of the file cannot hold is
      // refused before anything is allocated for it.
      if (count > in.left() / min_value_bytes(v.element_type)) {
        file.fail(what, " is an array of ", count, " ", gguf_value_type_name(v.element_type),
                  " values, more than the remaining ", in.left(), " bytes of the file can hold");
      }
      v.array.reserve(static_cast<size_t>(count));
      for (uint64_t k = 0; k < count; ++k) v.array.push_back(read_value(in, file, v.element_type, key, depth + 1));
      break;
    }
  }
  return v;
}

std::string describe(const GgufValue& v) {
  if (v.type == GgufValueType::ARRAY) return std::string("an array of ") + gguf_value_type_name(v.element_type);
  return std::string("a ") + gguf_value_type_name(v.type);
}

// Fits-in-int64 integer value of `v`, or nullopt.
std::optional<int64_t> integer_of(const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::U8:
    case GgufValueType::U16:
    case GgufValueType::U32:
    case GgufValueType::U64:
      if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
      return static_cast<int64_t>(v.u);
    case GgufValueType::I8:
    case GgufValueType::I16:
    case GgufValueType::I32:
    case GgufValueType::I64: return v.i;
    default: return std::nullopt;
  }
}

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const auto& info : kTypes) {
    if (static_cast<uint32_t>(info.type) == id) return &info;
  }
  return nullptr;
}

const GgmlTypeInfo& ggml_type_info(GgmlType type) { return *ggml_type_info(static_cast<uint32_t>(type)); }

std::string ggml_type_name(uint32_t id) {
  const auto* info = ggml_type_info(id);
  return info ? info->name : "type " + std::to_string(id);
}

std::optional<GgmlType> ggml_type_from_name(const std::string& name) {
  std::string upper = name;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& info : kTypes) {
    if (upper == info.name) return info.type;
  }
  return std::nullopt;
}

const char* gguf_value_type_name(GgufValueType type) {
  static const char* const names[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<uint32_t>(type);
  return index < sizeof(names) / sizeof(names[0]) ? names[index] : "unknown";
}

bool GgufValue::is_integer() const { return integer_of(*this).has_value(); }

uint64_t GgufTensorInfo::elements() const {
  uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return std::vector<int64_t>(ne.rbegin(), ne.rend()); }

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) file->fail("cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    file->fail("not a regular file");
  }
  file->size_ = static_cast<size_t>(st.st_size);
  if (file->size_ > 0) {
    void* data = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE | MAP_NORESERVE, fd, 0);
    const int error = errno;
    ::close(fd);
    if (data == MAP_FAILED) file->fail("cannot map: ", std::strerror(error));
    file->data_ = static_cast<const uint8_t*>(data);
    file->mapped_ = true;
  } else {
    ::close(fd);
  }
  file->parse_all();
  return file;
}

std::shared_ptr<GgufFile> GgufFile::parse(const uint8_t* bytes, size_t size, const std::string& path) {
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->data_ = bytes;
  file->size_ = size;
  file->parse_all();
  return file;
}

GgufFile::~GgufFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void GgufFile::parse_all() {
  Cursor in(*this, data_, size_);
  if (size_ < 4 || std::memcmp(data_, "GGUF", 4) != 0) fail("not a GGUF file (it does not start with \"GGUF\")");
  in.read<uint32_t>("magic");
  version_ = in.read<uint32_t>("the version");
  if (version_ == 1) fail("GGUF version 1 (32-bit counts) is not supported; convert it with a newer llama.cpp");
  if (version_ != 2 && version_ != 3) fail("GGUF version ", version_, " is not supported (supported: 2, 3)");
  const uint64_t tensor_count = in.read<uint64_t>("the tensor count");
  const uint64_t metadata_count = in.read<uint64_t>("the metadata count");
  // A metadata entry takes at least 8 + 4 + 1 bytes, a tensor entry 8 + 4 + 4 + 8.
  if (metadata_count > in.left() / 13)
    fail("claims ", metadata_count, " metadata entries, more than the file can hold");
  if (tensor_count > in.left() / 24) fail("claims ", tensor_count, " tensors, more than the file can hold");

  for (uint64_t k = 0; k < metadata_count; ++k) {
    std::string key = in.string("metadata key #" + std::to_string(k));
    const uint32_t type = in.read<uint32_t>(("the value type of metadata '" + key + "'").c_str());
    if (!valid_value_type(type)) fail("metadata '", key, "' has unknown value type ", type);
    GgufValue value = read_value(in, *this, static_cast<GgufValueType>(type), key, 0);
    if (metadata_index_.count(key)) fail("metadata key '", key, "' appears twice");
    metadata_index_[key] = metadata_.size();
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* align = find("general.alignment")) {
    const auto value = integer_of(*align);
    if (!value || align->type != GgufValueType::U32) {
      fail("metadata 'general.alignment' must be a u32, found ", describe(*align));
    }
    if (*value == 0 || (*value & (*value - 1)) != 0) {
      fail("metadata 'general.alignment' is ", *value, "; it must be a power of two");
    }
    alignment_ = static_cast<uint32_t>(*value);
  }

  for (uint64_t k = 0; k < tensor_count; ++k) {
    GgufTensorInfo t;
    t.name = in.string("tensor name #" + std::to_string(k));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = in.read<uint32_t>(what.c_str());
    if (n_dims == 0 || n_dims > kMaxDims) fail(what, " has ", n_dims, " dimensions (1 to ", kMaxDims, " are allowed)");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t n = in.read<uint64_t>(what.c_str());
      // Each dimension below 2^62 and the product below 2^62 keeps every size computation exact.
      if (n == 0 || n >= (uint64_t{1} << 62) || elements > ((uint64_t{1} << 62) / n)) {
        fail(what, " has dimension ", d, " of size ", n, ", which is not a valid size");
      }
      elements *= n;
      t.ne.push_back(n);
    }
    const uint32_t type = in.read<uint32_t>(what.c_str());
    const GgmlTypeInfo* info = ggml_type_info(type);
    if (!info) fail(what, " has unknown ggml type ", type);
    t.type = info->type;
    if (t.ne[0] % info->block_size != 0) {
      fail(what, " has rows of ", t.ne[0], " elements, not a multiple of ", info->name, "'s block of ",
           info->block_size);
    }
    t.bytes = elements / info->block_size * info->type_size;
    t.offset = in.read<uint64_t>(what.c_str());
    if (t.offset % alignment_ != 0)
      fail(what, " starts at offset ", t.offset, ", not a multiple of the alignment ", alignment_);
    if (tensor_index_.count(t.name)) fail("tensor name '", t.name, "' appears twice");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  const uint64_t header_end = in.pos();
  data_start_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensors_.empty()) return;  // a file of metadata alone (a tokenizer, a vocabulary) may end here
  if (data_start_ > size_)
    fail("the tensor data should start at byte ", data_start_, ", past the end of the ", size_, "-byte file");
  const uint64_t data_size = size_ - data_start_;

  // Each tensor inside the data section, and no two overlapping.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_) {
    if (t.offset > data_size || t.bytes > data_size - t.offset) {
      fail("tensor '", t.name, "' ends at byte ", t.offset + t.bytes, " of the data, past its ", data_size, " bytes");
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const auto* a = by_offset[k - 1];
    const auto* b = by_offset[k];
    if (a->offset + a->bytes > b->offset) {
      fail("tensors '", a->name, "' and '", b->name, "' overlap in the data (bytes ", b->offset, " to ",
           a->offset + a->bytes, ")");
    }
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

int64_t GgufFile::get_int(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  const auto value = integer_of(*v);
  if (!value) fail("metadata '", key, "' must be an integer, found ", describe(*v));
  return *value;
}

int64_t GgufFile::get_int(const std::string& key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }

double GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  if (v->is_float()) return v->f;
  if (const auto value = integer_of(*v)) return static_cast<double>(*value);
  fail("metadata '", key, "' must be a number, found ", describe(*v));
}

double GgufFile::get_float(const std::string& key, double fallback) const {
  return has(key) ? get_float(key) : fallback;
}

bool GgufFile::get_bool(const std::string& key, bool fallback) const {
  const GgufValue* v = find(key);
  if (!v) return fallback;
  if (v->type != GgufValueType::BOOL) fail("metadata '", key, "' must be a bool, found ", describe(*v));
  return v->u != 0;
}

std::string GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  if (v->type != GgufValueType::STRING) fail("metadata '", key, "' must be a string, found ", describe(*v));
  return v->s;
}

std::string GgufFile::get_string(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  if (v->type != GgufValueType::ARRAY || v->element_type != GgufValueType::STRING) {
    fail("metadata '", key, "' must be an array of strings, found ", describe(*v));
  }
  std::vector<std::string> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(e.s);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  std::vector<int64_t> out;
  if (v->type == GgufValueType::ARRAY) {
    for (const auto& e : v->array) {
      const auto value = integer_of(e);
      if (!value) break;
      out.push_back(*value);
    }
    if (out.size() == v->array.size()) return out;
  }
  fail("metadata '", key, "' must be an array of integers, found ", describe(*v));
}

std::vector<double> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) fail("has no metadata '", key, "'");
  if (v->type != GgufValueType::ARRAY ||
      !(v->element_type == GgufValueType::F32 || v->element_type == GgufValueType::F64)) {
    fail("metadata '", key, "' must be an array of floats, found ", describe(*v));
  }
  std::vector<double> out;
  out.reserve(v->array.size());
  for (const auto& e : v->array) out.push_back(e.f);
  return out;
}

std::string gguf_model_file(const std::string& path) {
  std::error_code error;
  const fs::path p(path);
  if (fs::is_regular_file(p, error)) return p.extension() == ".gguf" ? path : "";
  if (!fs::is_directory(p, error) || fs::exists(p / "config.json", error)) return "";
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(p, error)) {
    if (entry.is_regular_file(error) && entry.path().extension() == ".gguf") found.push_back(entry.path().string());
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    retain::fail("gguf", path, ": this folder has no config.json and ", found.size(),
                 " .gguf files; name one of them (", found[0], ", ...)");
  }
  return found.empty() ? "" : found[0];
}

}  // namespace retain::io
