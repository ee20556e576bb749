// idx-fuzz.cpp - libFuzzer target for IDX image and label files (plain or gzip): any bytes must read
// or throw retain::Error, as a labels file and as an images file beside a labels file of 10 labels.
// Any other exception, a crash, or an ASan/UBSan report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/idx.h"
#include "error.h"
#include "fuzz-file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = retain::fuzz::fuzz_file(data, size, "input-idx");
  try {
    retain::data::idx_read_labels(path);
  } catch (const retain::Error&) {
  }
  static const std::string labels = [] {
    const auto bytes = retain::data::idx_labels_bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    return retain::fuzz::fuzz_file(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "labels-idx");
  }();
  try {
    retain::data::idx_load(path, labels);
  } catch (const retain::Error&) {
  }
  return 0;
}
