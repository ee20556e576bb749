// gguf-writer.cpp - the GGUF v3 layout of gguf.h, written.
#include "io/gguf-writer.h"

#include <algorithm>
#include <cstring>

#include "error.h"
#include "io/atomic-file.h"

namespace retain::io {

namespace {

class Bytes {
 public:
  template <typename T>
  void put(T value) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(&out_[at], &value, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void put_value(const GgufValue& v) {
    switch (v.type) {
      case GgufValueType::U8: put<uint8_t>(static_cast<uint8_t>(v.u)); break;
      case GgufValueType::I8: put<int8_t>(static_cast<int8_t>(v.i)); break;
      case GgufValueType::U16: put<uint16_t>(static_cast<uint16_t>(v.u)); break;
      case GgufValueType::I16: put<int16_t>(static_cast<int16_t>(v.i)); break;
      case GgufValueType::U32: put<uint32_t>(static_cast<uint32_t>(v.u)); break;
      case GgufValueType::I32: put<int32_t>(static_cast<int32_t>(v.i)); break;
      case GgufValueType::U64: put<uint64_t>(v.u); break;
      case GgufValueType::I64: put<int64_t>(v.i); break;
      case GgufValueType::F32: put<float>(static_cast<float>(v.f)); break;
      case GgufValueType::F64: put<double>(v.f); break;
      case GgufValueType::BOOL: put<uint8_t>(v.u ? 1 : 0); break;
      case GgufValueType::STRING: put_string(v.s); break;
      case GgufValueType::ARRAY:
        put<uint32_t>(static_cast<uint32_t>(v.element_type));
        put<uint64_t>(v.array.size());
        for (const auto& e : v.array) put_value(e);
        break;
    }
  }
  void pad_to(uint64_t alignment) { out_.resize((out_.size() + alignment - 1) / alignment * alignment, 0); }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

GgufValue array_of(GgufValueType type, std::vector<GgufValue> values) {
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.element_type = type;
  v.array = std::move(values);
  return v;
}

}  // namespace

GgufValue gguf_string(std::string value) {
  GgufValue v;
  v.type = GgufValueType::STRING;
  v.s = std::move(value);
  return v;
}
GgufValue gguf_u32(uint32_t value) {
  GgufValue v;
  v.type = GgufValueType::U32;
  v.u = value;
  return v;
}
GgufValue gguf_i32(int32_t value) {
  GgufValue v;
  v.type = GgufValueType::I32;
  v.i = value;
  return v;
}
GgufValue gguf_f32(float value) {
  GgufValue v;
  v.type = GgufValueType::F32;
  v.f = value;
  return v;
}
GgufValue gguf_bool(bool value) {
  GgufValue v;
  v.type = GgufValueType::BOOL;
  v.u = value ? 1 : 0;
  return v;
}
GgufValue gguf_string_array(const std::vector<std::string>& values) {
  std::vector<GgufValue> out;
  out.reserve(values.size());
  for (const auto& s : values) out.push_back(gguf_string(s));
  return array_of(GgufValueType::STRING, std::move(out));
}
GgufValue gguf_i32_array(const std::vector<int64_t>& values) {
  std::vector<GgufValue> out;
  out.reserve(values.size());
  for (auto x : values) out.push_back(gguf_i32(static_cast<int32_t>(x)));
  return array_of(GgufValueType::I32, std::move(out));
}
GgufValue gguf_f32_array(const std::vector<double>& values) {
  std::vector<GgufValue> out;
  out.reserve(values.size());
  for (auto x : values) out.push_back(gguf_f32(static_cast<float>(x)));
  return array_of(GgufValueType::F32, std::move(out));
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0)
    fail("gguf", "alignment ", alignment, " is not a power of two");
  if (alignment != 32) set("general.alignment", gguf_u32(alignment));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& entry : metadata_) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::remove(const std::string& key) {
  metadata_.erase(std::remove_if(metadata_.begin(), metadata_.end(), [&](const auto& e) { return e.first == key; }),
                  metadata_.end());
}

bool GgufWriter::has(const std::string& key) const {
  return std::any_of(metadata_.begin(), metadata_.end(), [&](const auto& e) { return e.first == key; });
}

void GgufWriter::add_tensor(const std::string& name, std::vector<uint64_t> ne, GgmlType type, Fill fill) {
  const auto& info = ggml_type_info(type);
  for (const auto& t : tensors_) {
    if (t.info.name == name) fail("gguf", "tensor '", name, "' is written twice");
  }
  if (ne.empty() || ne.size() > 4)
    fail("gguf", "tensor '", name, "' has ", ne.size(), " dimensions (1 to 4 are allowed)");
  if (ne[0] % info.block_size != 0) {
    fail("gguf", "tensor '", name, "' has rows of ", ne[0], " elements, which ", info.name,
         " cannot hold (its blocks are ", info.block_size, " elements)");
  }
  Tensor t;
  t.info.name = name;
  t.info.ne = std::move(ne);
  t.info.type = type;
  t.info.bytes = t.info.elements() / info.block_size * info.type_size;
  uint64_t offset = 0;
  if (!tensors_.empty()) {
    const auto& last = tensors_.back().info;
    offset = (last.offset + last.bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  t.info.offset = offset;
  t.fill = std::move(fill);
  tensors_.push_back(std::move(t));
}

void GgufWriter::write(const std::string& path) const {
  Bytes header;
  header.put<uint32_t>(0x46554747);  // "GGUF"
  header.put<uint32_t>(3);
  header.put<uint64_t>(tensors_.size());
  header.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    header.put_string(key);
    header.put<uint32_t>(static_cast<uint32_t>(value.type));
    header.put_value(value);
  }
  for (const auto& t : tensors_) {
    header.put_string(t.info.name);
    header.put<uint32_t>(static_cast<uint32_t>(t.info.ne.size()));
    for (auto n : t.info.ne) header.put<uint64_t>(n);
    header.put<uint32_t>(static_cast<uint32_t>(t.info.type));
    header.put<uint64_t>(t.info.offset);
  }
  header.pad_to(alignment_);

  AtomicFile out(path);
  out.write(header.str().data(), header.str().size());
  uint64_t written = 0;
  std::vector<uint8_t> buffer;
  static const char zeros[64] = {};
  for (const auto& t : tensors_) {
    while (written < t.info.offset) {
      const uint64_t n = std::min<uint64_t>(sizeof(zeros), t.info.offset - written);
      out.write(zeros, n);
      written += n;
    }
    buffer.assign(t.info.bytes, 0);
    t.fill(buffer.data());
    out.write(buffer.data(), buffer.size());
    written += buffer.size();
  }
  // llama.cpp expects the data section to end aligned as well.
  while (written % alignment_ != 0) {
    const uint64_t n = std::min<uint64_t>(sizeof(zeros), alignment_ - written % alignment_);
    out.write(zeros, n);
    written += n;
  }
  out.commit();
}

}  // namespace retain::io
