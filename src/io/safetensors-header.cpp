// safetensors-header.cpp - every check a hostile .safetensors header needs, and the writer's header.
#include "io/safetensors-header.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>

#include "error.h"

namespace retain::io {
namespace {

using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors numbers are little-endian and retain copies them as they are");

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the Rust crate's limit

struct DtypeInfo {
  const char* name;
  size_t size;
};
// Indexed by Dtype.
constexpr DtypeInfo kDtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"I16", 2}, {"F16", 2},
                                 {"BF16", 2}, {"I32", 4}, {"F32", 4}, {"F64", 8}, {"I64", 8}};
constexpr const char* kDtypeList = "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";

template <typename... Parts>
[[noreturn]] void fail_tensor(const std::string& file, const std::string& name, const Parts&... parts) {
  fail("safetensors", file, ": tensor '", name, "' ", parts...);
}

// A JSON value for an error message, cut short: a hostile header may hold megabytes in one value.
std::string brief(const json& value) {
  const std::string text = value.dump();
  if (text.size() <= 40) return text;
  size_t cut = 40;
  while ((text[cut] & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return text.substr(0, cut) + "...";
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

// nlohmann keeps one of two equal keys without a word; a safetensors header must not have them.
json parse_json(const char* text, size_t n, const std::string& file) {
  std::vector<std::set<std::string>> keys;  // the keys seen so far in each open object
  std::string top_key;                      // the tensor (or __metadata__) being read
  auto check = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    } else if (event == json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (depth == 1) top_key = key;
      if (!keys.back().insert(key).second) {
        if (depth == 1) fail("safetensors", file, ": '", key, "' appears twice in the header");
        fail("safetensors", file, ": '", top_key, "' has the key '", key, "' twice");
      }
    }
    return true;
  };
  try {
    return json::parse(text, text + n, check);
  } catch (const json::exception& e) {
    // nlohmann quotes the bytes it read last, which may be the invalid UTF-8 itself.
    std::string message = e.what();
    std::replace_if(
        message.begin(), message.end(), [](char c) { return c < ' ' || c > '~'; }, '?');
    fail("safetensors", file, ": the header is not valid JSON: ", message);
  }
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& file) {
  std::map<std::string, std::string> metadata;
  if (value.is_null()) return metadata;  // the Rust crate reads null as "no metadata"
  if (!value.is_object()) fail("safetensors", file, ": __metadata__ is ", brief(value), ", not an object");
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string()) {
      fail("safetensors", file, ": __metadata__ entry '", key, "' is ", brief(text), ", not a string");
    }
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

const json& field(const json& entry, const char* key, const std::string& name, const std::string& file) {
  auto it = entry.find(key);
  if (it == entry.end()) fail_tensor(file, name, "has no '", key, "'");
  return *it;
}

Dtype parse_dtype(const json& value, const std::string& name, const std::string& file) {
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    for (size_t i = 0; i < std::size(kDtypes); ++i) {
      if (text == kDtypes[i].name) return static_cast<Dtype>(i);
    }
  }
  fail_tensor(file, name, "has dtype ", brief(value), ", which retain does not read (it reads ", kDtypeList, ")");
}

// The entries of `value`, which must be a list of non-negative integers no larger than `max`.
std::vector<uint64_t> parse_naturals(const json& value, uint64_t max, const char* what, const std::string& name,
                                     const std::string& file) {
  if (!value.is_array()) fail_tensor(file, name, "has ", what, " ", brief(value), ", not a list");
  std::vector<uint64_t> out;
  for (const auto& item : value) {
    if (!item.is_number_unsigned() || item.get<uint64_t>() > max) {
      fail_tensor(file, name, "has ", what, " entry ", brief(item), ", not an integer in [0, ", max, "]");
    }
    out.push_back(item.get<uint64_t>());
  }
  return out;
}

TensorEntry parse_entry(const std::string& name, const json& entry, const std::string& file) {
  if (!entry.is_object()) {
    fail_tensor(file, name, "is ", brief(entry), ", not an object with dtype, shape and data_offsets");
  }
  TensorEntry tensor;
  tensor.name = name;
  tensor.dtype = parse_dtype(field(entry, "dtype", name, file), name, file);
  // int64_t because torch sizes are; the Rust crate allows up to usize.
  for (uint64_t d :
       parse_naturals(field(entry, "shape", name, file), std::numeric_limits<int64_t>::max(), "shape", name, file)) {
    tensor.shape.push_back(static_cast<int64_t>(d));
  }
  const json& offsets = field(entry, "data_offsets", name, file);
  auto range = parse_naturals(offsets, std::numeric_limits<uint64_t>::max(), "data_offsets", name, file);
  if (range.size() != 2) fail_tensor(file, name, "has data_offsets ", brief(offsets), ", not [begin, end]");
  tensor.begin = range[0];
  tensor.end = range[1];
  return tensor;
}

// The Rust crate's rule: in offset order the tensors tile the data buffer from 0 to its end.
void check_layout(std::vector<TensorEntry>& tensors, uint64_t data_bytes, const std::string& file) {
  std::sort(tensors.begin(), tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t next = 0;  // where the next tensor must start
  const std::string* previous = nullptr;
  for (const auto& t : tensors) {
    if (t.end < t.begin) fail_tensor(file, t.name, "has data_offsets [", t.begin, ", ", t.end, "]: end before begin");
    if (t.begin < next) {
      fail_tensor(file, t.name, "starts at byte ", t.begin, ", inside tensor '", *previous, "' which ends at ", next);
    }
    if (t.begin > next) {
      fail_tensor(file, t.name, "starts at byte ", t.begin, ", leaving a hole after byte ", next,
                  " (the tensors must cover the data buffer)");
    }
    uint64_t bytes = dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
        fail_tensor(file, t.name, "has shape ", shape_text(t.shape), " of ", dtype_name(t.dtype),
                    ", whose size in bytes overflows 64 bits");
      }
    }
    if (bytes != t.end - t.begin) {
      fail_tensor(file, t.name, "has shape ", shape_text(t.shape), " of ", dtype_name(t.dtype), " (", bytes,
                  " bytes) but data_offsets [", t.begin, ", ", t.end, "] span ", t.end - t.begin, " bytes");
    }
    if (t.end > data_bytes) {
      fail_tensor(file, t.name, "ends at byte ", t.end, " of the data, past its ", data_bytes, " bytes");
    }
    next = t.end;
    previous = &t.name;
  }
  if (next != data_bytes) {
    if (!previous) fail("safetensors", file, ": the header lists no tensor but ", data_bytes, " data bytes follow it");
    fail("safetensors", file, ": ", data_bytes - next, " bytes follow the last tensor '", *previous,
         "' (the tensors must end where the file does)");
  }
}

// A JSON string exactly as serde_json writes it, which is also nlohmann's compact form.
std::string quoted(const std::string& text) {
  try {
    return json(text).dump();
  } catch (const json::type_error&) {
    fail("safetensors", "cannot write '", text, "': not valid UTF-8");
  }
}

}  // namespace

size_t dtype_size(Dtype dtype) { return kDtypes[static_cast<size_t>(dtype)].size; }

const char* dtype_name(Dtype dtype) { return kDtypes[static_cast<size_t>(dtype)].name; }

SafetensorsHeader safetensors_header_parse(const uint8_t* data, size_t size, const std::string& file) {
  if (size < 8) fail("safetensors", file, ": the file has ", size, " bytes, fewer than the 8 of the header length");
  uint64_t n = 0;
  std::memcpy(&n, data, 8);
  if (n > kMaxHeaderBytes) {
    fail("safetensors", file, ": header length ", n, " is over the limit of ", kMaxHeaderBytes, " bytes");
  }
  if (n > size - 8) fail("safetensors", file, ": header length ", n, " runs past the end of the ", size, "-byte file");
  const char* text = reinterpret_cast<const char*>(data + 8);
  // nlohmann stops reading at a NUL as if the input ended there; valid JSON never holds one.
  if (const void* nul = std::memchr(text, 0, n)) {
    fail("safetensors", file, ": the header has a NUL byte at byte ", static_cast<const char*>(nul) - text + 8);
  }
  json header = parse_json(text, n, file);
  if (!header.is_object()) fail("safetensors", file, ": the header is ", brief(header), ", not a JSON object");

  SafetensorsHeader out;
  out.data_start = 8 + n;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      out.metadata = parse_metadata(value, file);
    } else {
      out.tensors.push_back(parse_entry(key, value, file));
    }
  }
  check_layout(out.tensors, size - out.data_start, file);
  return out;
}

std::string safetensors_header_build(const std::vector<TensorEntry>& tensors,
                                     const std::map<std::string, std::string>& metadata) {
  std::string text = "{";
  if (!metadata.empty()) {
    text += "\"__metadata__\":{";
    for (const auto& [key, value] : metadata) {
      if (text.back() != '{') text += ',';
      text += quoted(key) + ':' + quoted(value);
    }
    text += '}';
  }
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__" || !names.insert(t.name).second) {
      fail("safetensors", "cannot write tensor '", t.name, "': the name is reserved or listed twice");
    }
    if (text.size() > 1) text += ',';
    text += quoted(t.name) + ":{\"dtype\":\"" + dtype_name(t.dtype) + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) text += (i ? "," : "") + std::to_string(t.shape[i]);
    text += "],\"data_offsets\":[" + std::to_string(t.begin) + ',' + std::to_string(t.end) + "]}";
  }
  text += '}';
  text.append((8 - text.size() % 8) % 8, ' ');  // so the data that follows is 8-byte aligned

  const uint64_t n = text.size();
  std::string out(8, '\0');
  std::memcpy(out.data(), &n, 8);
  return out + text;
}

}  // namespace retain::io
