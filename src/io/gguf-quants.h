// gguf-quants.h - ggml's block types to float32 and back, with no libtorch.
//
// Dequantization gives exactly what the `gguf` Python package (llama.cpp's reference,
// gguf/quants.py) gives, bit for bit: the same float32 operations in the same order. Quantization
// covers the types retain writes and gives the package's bytes exactly (its Q8_0 is ggml's).
// Block layouts: docs/gguf.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"

namespace retain::io {

// Types retain turns into float32: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// Q4_K, Q5_K, Q6_K.
bool ggml_can_dequantize(GgmlType type);
// Types retain writes: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1.
bool ggml_can_quantize(GgmlType type);
std::string ggml_dequantizable_names();  // "F32, F16, ..." for error messages
std::string ggml_quantizable_names();

// `n` elements (a whole number of blocks) from `src` into `dst`. The type must be dequantizable.
void ggml_dequantize(GgmlType type, const uint8_t* src, float* dst, uint64_t n);
// `n` elements (a whole number of blocks) into n / block_size * type_size bytes at `dst`.
void ggml_quantize(GgmlType type, const float* src, uint8_t* dst, uint64_t n);

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  // round to nearest even, overflow to infinity (numpy's astype)
float bf16_to_float(uint16_t h);
uint16_t float_to_bf16(float f);  // ggml_compute_fp32_to_bf16: NaN quieted, round to nearest even

}  // namespace retain::io
