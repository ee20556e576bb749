// gguf-fuzz.cpp - libFuzzer target for the GGUF reader: any bytes, taken as a whole file, must
// parse or throw retain::Error. Any other exception, a crash, or an ASan/UBSan report is a finding.
// A file that parses has every tensor of a type retain reads dequantized (up to 1M elements), so
// the offsets and sizes the reader accepted are exercised.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "error.h"
#include "io/gguf-quants.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = retain::io::GgufFile::parse(data, size, "fuzz.gguf");
    std::vector<float> out;
    for (const auto& t : file->tensors()) {
      if (!retain::io::ggml_can_dequantize(t.type) || t.elements() > (1u << 20)) continue;
      out.resize(t.elements());
      retain::io::ggml_dequantize(t.type, file->tensor_data(t), out.data(), t.elements());
    }
  } catch (const retain::Error&) {
  }
  return 0;
}
