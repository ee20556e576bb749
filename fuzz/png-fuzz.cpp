// png-fuzz.cpp - libFuzzer target for the PNG reader: any bytes must read as an 8-bit grayscale
// image or throw retain::Error. Any other exception, a crash, or an ASan/UBSan report is a finding;
// an image that reads must hold width x height pixels. Each input is read as it is and with every
// chunk's CRC made right, so that mutations get past the CRC check into inflating and unfiltering.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/png.h"
#include "error.h"
#include "fuzz-file.h"

namespace {

void read(const std::vector<uint8_t>& bytes) {
  try {
    const auto image = retain::data::png_read_gray8(retain::fuzz::fuzz_file(bytes.data(), bytes.size(), "image.png"));
    if (static_cast<int64_t>(image.pixels.size()) != image.width * image.height) __builtin_trap();
  } catch (const retain::Error&) {
  }
}

// Walks the chunks after the 8-byte signature (length, type, data, CRC) and rewrites each CRC.
void fix_crcs(std::vector<uint8_t>& bytes) {
  size_t at = 8;
  while (at + 12 <= bytes.size()) {
    const size_t length =
        size_t(bytes[at]) << 24 | size_t(bytes[at + 1]) << 16 | size_t(bytes[at + 2]) << 8 | bytes[at + 3];
    if (length > bytes.size() - at - 12) return;
    const uLong crc = crc32(0, bytes.data() + at + 4, static_cast<uInt>(length + 4));
    for (int i = 0; i < 4; ++i) bytes[at + 8 + length + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    at += length + 12;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  read(bytes);
  fix_crcs(bytes);
  read(bytes);
  return 0;
}
