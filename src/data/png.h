// png.h - reads 8-bit grayscale PNG files (colour type 0, bit depth 8, not interlaced), the layout of
// OpenCV's digits.png; other layouts are refused by name. Chunk CRCs are checked, the zlib stream is
// inflated and the five row filters are undone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace retain::data {

struct GrayImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, height * width
};

GrayImage png_read_gray8(const std::string& path);

}  // namespace retain::data
