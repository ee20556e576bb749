// idx.h - IDX image and label files (the MNIST / Fashion-MNIST layout), gzip-compressed or plain;
// read and written:
//   images: magic 2051, big-endian uint32 count, rows, cols, then count*rows*cols uint8 pixels
//   labels: magic 2049, big-endian uint32 count, then count uint8 labels
// Every size comes from the header and is checked against the bytes the file holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/task-data.h"

namespace retain::data {

// The labels of an IDX label file.
std::vector<int64_t> idx_read_labels(const std::string& path);

// An images file with its labels file; the counts must agree.
ImageExamples idx_load(const std::string& images_path, const std::string& labels_path);

// The bytes of a plain (uncompressed) IDX images file and labels file holding `images`.
std::string idx_images_bytes(const ImageExamples& images);
std::string idx_labels_bytes(const std::vector<int64_t>& labels);

}  // namespace retain::data
