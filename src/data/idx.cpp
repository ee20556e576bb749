// idx.cpp - reads IDX files (through file_read_gunzip, so gzip or plain) and checks every size.
#include "data/idx.h"

#include <cstdint>

#include "data/text-file.h"
#include "error.h"

namespace retain::data {

namespace {

constexpr uint32_t kImagesMagic = 2051;  // 0x00000803: unsigned byte, 3 dimensions
constexpr uint32_t kLabelsMagic = 2049;  // 0x00000801: unsigned byte, 1 dimension

uint32_t be32(const std::string& bytes, size_t at) {
  const auto* b = reinterpret_cast<const uint8_t*>(bytes.data()) + at;
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

// Checks that the header is all there and starts with `magic`.
void check_layout(const std::string& path, const std::string& bytes, uint32_t magic, size_t header, const char* what) {
  if (bytes.size() < header) {
    fail("data", path, ": truncated IDX header (", bytes.size(), " bytes, the ", what, " header has ", header, ")");
  }
  const uint32_t found = be32(bytes, 0);
  if (found != magic) {
    fail("data", path, ": magic number ", found, " is not an IDX ", what, " file (expected ", magic, ")");
  }
}

void check_size(const std::string& path, size_t have, uint64_t want, const std::string& promise) {
  if (have < want)
    fail("data", path, ": truncated: ", have, " bytes of data, the header promises ", want, " (", promise, ")");
  if (have > want) fail("data", path, ": ", have - want, " bytes after the end the header gives (", promise, ")");
}

void put_be32(std::string& bytes, uint64_t value) {
  if (value > UINT32_MAX) fail("data", "IDX: a size of ", value, " does not fit the 32-bit header");
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>((value >> shift) & 0xff));
}

}  // namespace

std::vector<int64_t> idx_read_labels(const std::string& path) {
  const auto bytes = file_read_gunzip(path);
  check_layout(path, bytes, kLabelsMagic, 8, "labels");
  const uint32_t count = be32(bytes, 4);
  check_size(path, bytes.size() - 8, count, std::to_string(count) + " labels");
  std::vector<int64_t> labels;
  for (size_t i = 8; i < bytes.size(); ++i) labels.push_back(static_cast<uint8_t>(bytes[i]));
  return labels;
}

ImageExamples idx_load(const std::string& images_path, const std::string& labels_path) {
  auto bytes = file_read_gunzip(images_path);
  check_layout(images_path, bytes, kImagesMagic, 16, "images");
  const uint32_t count = be32(bytes, 4), rows = be32(bytes, 8), cols = be32(bytes, 12);
  if (rows == 0 || cols == 0) fail("data", images_path, ": images of ", rows, "x", cols, " pixels");
  // rows * cols fits 64 bits; the count times it might not (and would wrap to a size that matches).
  const uint64_t pixels_per_image = uint64_t{rows} * cols;
  if (count > UINT64_MAX / pixels_per_image) {
    fail("data", images_path, ": the header promises ", count, " images of ", rows, "x", cols,
         " pixels, more bytes than a file can hold");
  }
  check_size(images_path, bytes.size() - 16, uint64_t{count} * pixels_per_image,
             std::to_string(count) + " images of " + std::to_string(rows) + "x" + std::to_string(cols));
  ImageExamples images;
  images.rows = rows;
  images.cols = cols;
  images.pixels.assign(bytes.begin() + 16, bytes.end());
  images.labels = idx_read_labels(labels_path);
  if (images.size() != count) {
    fail("data", labels_path, ": ", images.size(), " labels for the ", count, " images of ", images_path);
  }
  return images;
}

std::string idx_images_bytes(const ImageExamples& images) {
  std::string bytes;
  for (uint64_t value : {uint64_t{kImagesMagic}, static_cast<uint64_t>(images.size()),
                         static_cast<uint64_t>(images.rows), static_cast<uint64_t>(images.cols)}) {
    put_be32(bytes, value);
  }
  bytes.append(images.pixels.begin(), images.pixels.end());
  return bytes;
}

std::string idx_labels_bytes(const std::vector<int64_t>& labels) {
  std::string bytes;
  put_be32(bytes, kLabelsMagic);
  put_be32(bytes, labels.size());
  for (int64_t label : labels) {
    if (label < 0 || label > 255) fail("data", "IDX: label ", label, " does not fit an unsigned byte");
    bytes.push_back(static_cast<char>(label));
  }
  return bytes;
}

}  // namespace retain::data
