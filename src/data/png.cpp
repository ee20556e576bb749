// png.cpp - see png.h.
#include "data/png.h"

#include <zlib.h>

#include <cstdlib>
#include <cstring>

#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

uint32_t be32(const std::string& bytes, size_t at) {
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data()) + at;
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

uint8_t paeth(int a, int b, int c) {
  const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
  return static_cast<uint8_t>(pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
}

}  // namespace

GrayImage png_read_gray8(const std::string& path) {
  const std::string bytes = io::file_read(path, "data");
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kSignature, 8) != 0) fail("data", path, ": not a PNG file");
  GrayImage image;
  std::string compressed;
  bool ended = false;
  for (size_t at = 8; !ended;) {
    if (at + 12 > bytes.size()) fail("data", path, ": truncated at byte ", at, " (no IEND chunk)");
    const uint32_t length = be32(bytes, at);
    const std::string type = bytes.substr(at + 4, 4);
    if (length > bytes.size() - at - 12) fail("data", path, ": chunk ", type, " at byte ", at, " runs past the end");
    const auto* typed = reinterpret_cast<const Bytef*>(bytes.data() + at + 4);
    if (crc32(0, typed, length + 4) != be32(bytes, at + 8 + length)) {
      fail("data", path, ": chunk ", type, " at byte ", at, " has a wrong CRC");
    }
    const std::string data = bytes.substr(at + 8, length);
    if (type == "IHDR") {
      if (length != 13) fail("data", path, ": IHDR of ", length, " bytes (13 expected)");
      image.width = be32(data, 0);
      image.height = be32(data, 4);
      const int depth = static_cast<uint8_t>(data[8]), colour = static_cast<uint8_t>(data[9]);
      const int interlace = static_cast<uint8_t>(data[12]);
      if (depth != 8 || colour != 0 || interlace != 0) {
        fail("data", path, ": bit depth ", depth, ", colour type ", colour, ", interlace ", interlace,
             "; only 8-bit grayscale, not interlaced, is read");
      }
      if (image.width == 0 || image.height == 0) fail("data", path, ": an image of ", image.width, "x", image.height);
    } else if (type == "IDAT") {
      compressed += data;
    } else if (type == "IEND") {
      ended = true;
    }
    at += 12 + length;
  }
  if (image.width == 0) fail("data", path, ": no IHDR chunk");
  const auto stride = static_cast<size_t>(image.width);
  // DEFLATE expands at most 1032-fold: a header promising more than the image data can inflate to is
  // refused before anything is allocated for it (found by fuzz/png-fuzz.cpp: 12 GB for a 200-byte file).
  const uint64_t most = uint64_t{compressed.size()} * 1032 + 1024;
  if (uint64_t(image.height) > most / (uint64_t{stride} + 1)) {
    fail("data", path, ": the header's ", image.width, "x", image.height, " image is more than its ", compressed.size(),
         " bytes of image data can hold");
  }
  std::vector<uint8_t> raw((stride + 1) * static_cast<size_t>(image.height));
  uLongf size = raw.size();
  const int status =
      uncompress(raw.data(), &size, reinterpret_cast<const Bytef*>(compressed.data()), compressed.size());
  if (status != Z_OK || size != raw.size()) {
    fail("data", path, ": the image data does not inflate to ", raw.size(), " bytes (zlib status ", status, ")");
  }
  image.pixels.resize(stride * static_cast<size_t>(image.height));
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = raw.data() + y * (stride + 1) + 1;
    uint8_t* out = image.pixels.data() + y * stride;
    const uint8_t* up = y > 0 ? out - stride : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x > 0 ? out[x - 1] : 0, b = up != nullptr ? up[x] : 0, c = x > 0 && up != nullptr ? up[x - 1] : 0;
      switch (filter) {
        case 0: out[x] = in[x]; break;
        case 1: out[x] = static_cast<uint8_t>(in[x] + a); break;
        case 2: out[x] = static_cast<uint8_t>(in[x] + b); break;
        case 3: out[x] = static_cast<uint8_t>(in[x] + (a + b) / 2); break;
        case 4: out[x] = static_cast<uint8_t>(in[x] + paeth(a, b, c)); break;
        default: fail("data", path, ": row ", y, " has filter type ", static_cast<int>(filter), " (0-4 exist)");
      }
    }
  }
  return image;
}

}  // namespace retain::data
