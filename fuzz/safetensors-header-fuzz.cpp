// safetensors-header-fuzz.cpp - libFuzzer target for the header parser: any bytes, taken as a whole
// file, must parse or throw retain::Error. Any other exception, a crash, or an ASan/UBSan report is
// a finding. A header that parses must also survive safetensors_header_build and parse back equal.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "io/safetensors-header.h"

using retain::io::SafetensorsHeader;

namespace {

bool same(const SafetensorsHeader& a, const SafetensorsHeader& b) {
  if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto &x = a.tensors[i], &y = b.tensors[i];
    if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.begin != y.begin || x.end != y.end) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SafetensorsHeader header;
  try {
    header = retain::io::safetensors_header_parse(data, size, "fuzz.safetensors");
  } catch (const retain::Error&) {
    return 0;
  }
  // The same data behind a header we wrote must read the same.
  std::string file = retain::io::safetensors_header_build(header.tensors, header.metadata);
  file.append(reinterpret_cast<const char*>(data) + header.data_start, size - header.data_start);
  const SafetensorsHeader again =
      retain::io::safetensors_header_parse(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "rebuilt");
  if (!same(header, again)) __builtin_trap();
  return 0;
}
