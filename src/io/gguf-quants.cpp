// gguf-quants.cpp - ggml block types. Each formula is the one of gguf/quants.py, written per
// element with the same float32 operations in the same order, so results are bit-identical; this
// file is compiled with -ffp-contract=off (CMakeLists.txt) so that no multiply-add gets fused.
#include "io/gguf-quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.h"

namespace retain::io {

namespace {

uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
float f16_at(const uint8_t* p) { return half_to_float(load_u16(p)); }

uint32_t float_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return x;
}
float bits_float(uint32_t x) {
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

// --- the 32-element types ---------------------------------------------------------------------

// Element j < 16 of a 32-element block is the low nibble of byte j, element j + 16 its high nibble.
void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(static_cast<int>(qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>(static_cast<int>(qs[j] >> 4) - 8);
  }
}
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}
// The fifth bit of element j is bit j of qh.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  const uint32_t qh = load_u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = d * static_cast<float>(lo - 16);
    y[j + 16] = d * static_cast<float>(hi - 16);
  }
}
void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = f16_at(b), m = f16_at(b + 2);
  const uint32_t qh = load_u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    const int lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
    const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = d * static_cast<float>(lo) + m;
    y[j + 16] = d * static_cast<float>(hi) + m;
  }
}
void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = f16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// --- the 256-element K types -------------------------------------------------------------------

void dequant_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;   // 16: low nibble scale, high nibble min
  const uint8_t* qs = b + 16;  // 64: element h*128 + s*32 + l is bits 2s..2s+1 of byte h*32 + l
  const float d = f16_at(b + 80), dmin = f16_at(b + 82);
  for (int g = 0; g < 16; ++g) {  // groups of 16 elements share a scale and a min
    const float dl = d * static_cast<float>(scales[g] & 0x0F);
    const float ml = dmin * static_cast<float>(scales[g] >> 4);
    const int h = g / 8, s = (g / 2) % 4, l0 = (g % 2) * 16;
    for (int l = l0; l < l0 + 16; ++l)
      y[g * 16 + l - l0] = dl * static_cast<float>((qs[h * 32 + l] >> (2 * s)) & 3) - ml;
  }
}

void dequant_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;    // 32: element e's high bit is bit e/32 of byte e%32
  const uint8_t* qs = b + 32;  // 64: low two bits, as Q2_K
  const uint8_t* sc = b + 96;  // 12: sixteen 6-bit scales
  const float d = f16_at(b + 108);
  int8_t scale[16];
  for (int i = 0; i < 16; ++i) {
    const int low = (sc[i % 8] >> (4 * (i / 8))) & 0x0F;
    const int high = (sc[8 + i % 4] >> (2 * (i / 4))) & 0x03;
    scale[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
  for (int g = 0; g < 16; ++g) {
    const float dl = d * static_cast<float>(scale[g]);
    const int h = g / 8, s = (g / 2) % 4, l0 = (g % 2) * 16, plane = g / 2;
    for (int l = l0; l < l0 + 16; ++l) {
      const int low = (qs[h * 32 + l] >> (2 * s)) & 3;
      const int high_bit = (hmask[l] >> plane) & 1;
      y[g * 16 + l - l0] = dl * static_cast<float>(low - ((high_bit ^ 1) << 2));  // offset when the mask bit is clear
    }
  }
}

// Q4_K / Q5_K: eight 6-bit scales and mins packed in 12 bytes.
void k_scale_min(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 0x3F;
    mn[j] = s[4 + j] & 0x3F;
    sc[4 + j] = (s[8 + j] & 0x0F) | ((s[j] >> 2) & 0x30);
    mn[4 + j] = (s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30);
  }
}

void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  uint8_t sc[8], mn[8];
  k_scale_min(b + 4, sc, mn);
  const uint8_t* qs = b + 16;    // element c*64 + j*32 + l is nibble j of byte c*32 + l
  for (int g = 0; g < 8; ++g) {  // groups of 32 share a scale and a min
    const float d1 = d * static_cast<float>(sc[g]);
    const float m1 = dmin * static_cast<float>(mn[g]);
    const uint8_t* q = qs + (g / 2) * 32;
    const int shift = 4 * (g % 2);
    for (int l = 0; l < 32; ++l) y[g * 32 + l] = d1 * static_cast<float>((q[l] >> shift) & 0x0F) - m1;
  }
}

void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = f16_at(b), dmin = f16_at(b + 2);
  uint8_t sc[8], mn[8];
  k_scale_min(b + 4, sc, mn);
  const uint8_t* qh = b + 16;  // 32: element e's fifth bit is bit e/32 of byte e%32
  const uint8_t* qs = b + 48;  // 128: as Q4_K
  for (int g = 0; g < 8; ++g) {
    const float d1 = d * static_cast<float>(sc[g]);
    const float m1 = dmin * static_cast<float>(mn[g]);
    const uint8_t* q = qs + (g / 2) * 32;
    const int shift = 4 * (g % 2);
    for (int l = 0; l < 32; ++l) {
      const int v = ((q[l] >> shift) & 0x0F) | (((qh[l] >> g) & 1) << 4);
      y[g * 32 + l] = d1 * static_cast<float>(v) - m1;
    }
  }
}

void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;        // 128: element a*128 + j*64 + l is nibble j of byte a*64 + l
  const uint8_t* qh = b + 128;  // 64: element a*128 + s*32 + l has bits 2s..2s+1 of byte a*32 + l
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);  // 16
  const float d = f16_at(b + 208);
  for (int g = 0; g < 16; ++g) {
    const float d1 = d * static_cast<float>(scales[g]);
    const int a = g / 8, r0 = (g % 8) * 16;
    for (int r = r0; r < r0 + 16; ++r) {
      const int low = (ql[a * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
      const int high = (qh[a * 32 + r % 32] >> (2 * (r / 32))) & 0x03;
      y[a * 128 + r] = d1 * static_cast<float>((low | (high << 4)) - 32);
    }
  }
}

// --- quantizers (gguf/quants.py's quantize_blocks) ---------------------------------------------

// np_roundf: round half away from zero, computed as the package does.
float round_away(float n) {
  const float a = std::fabs(n);
  const float floored = std::floor(a);
  const float b = floored + std::floor(2.0f * (a - floored));
  return n < 0 ? -b : (n > 0 ? b : 0.0f * b);
}

// The element of largest magnitude, first one on ties (numpy's argmax of abs), with its sign.
float signed_absmax(const float* x) {
  int best = 0;
  for (int j = 1; j < 32; ++j) {
    if (std::fabs(x[j]) > std::fabs(x[best])) best = j;
  }
  return x[best];
}

inline float inverse_or_zero(float d) { return d == 0.0f ? 0.0f : 1.0f / d; }
// np.trunc(v).astype(np.uint8).clip(0, hi) for the values these quantizers produce.
inline uint8_t trunc_clip(float v, int hi) {
  const float t = std::trunc(v);
  return static_cast<uint8_t>(std::min<float>(std::max<float>(t, 0.0f), static_cast<float>(hi)));
}

void pack_nibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] << 4) & 0xF0));
}
void pack_high_bits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}

void quant_q8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, float_to_half(d));
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(round_away(x[j] * id)));
}

// Q4_0 / Q5_0: d = the signed extreme / -2^(bits-1), q = trunc(x/d + 2^(bits-1) + 0.5).
template <int kBits>
void quant_symmetric(const float* x, uint8_t* b) {
  constexpr int kHalf = 1 << (kBits - 1);
  const float d = signed_absmax(x) / -static_cast<float>(kHalf);
  const float id = inverse_or_zero(d);
  uint8_t q[32];
  for (int j = 0; j < 32; ++j) q[j] = trunc_clip(x[j] * id + (static_cast<float>(kHalf) + 0.5f), 2 * kHalf - 1);
  store_u16(b, float_to_half(d));
  if (kBits == 5) pack_high_bits(q, b + 2);
  pack_nibbles(q, b + (kBits == 5 ? 6 : 2));
}

// Q4_1 / Q5_1: d = (max - min) / (2^bits - 1), m = min, q = trunc((x - min)/d + 0.5).
template <int kBits>
void quant_affine(const float* x, uint8_t* b) {
  constexpr int kTop = (1 << kBits) - 1;
  const float max = *std::max_element(x, x + 32), min = *std::min_element(x, x + 32);
  const float d = (max - min) / static_cast<float>(kTop);
  const float id = inverse_or_zero(d);
  uint8_t q[32];
  for (int j = 0; j < 32; ++j) q[j] = trunc_clip((x[j] - min) * id + 0.5f, kTop);
  store_u16(b, float_to_half(d));
  store_u16(b + 2, float_to_half(min));
  if (kBits == 5) pack_high_bits(q, b + 4);
  pack_nibbles(q, b + (kBits == 5 ? 8 : 4));
}

using BlockDequant = void (*)(const uint8_t*, float*);
using BlockQuant = void (*)(const float*, uint8_t*);

BlockDequant block_dequant(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return dequant_q4_0;
    case GgmlType::Q4_1: return dequant_q4_1;
    case GgmlType::Q5_0: return dequant_q5_0;
    case GgmlType::Q5_1: return dequant_q5_1;
    case GgmlType::Q8_0: return dequant_q8_0;
    case GgmlType::Q2_K: return dequant_q2_k;
    case GgmlType::Q3_K: return dequant_q3_k;
    case GgmlType::Q4_K: return dequant_q4_k;
    case GgmlType::Q5_K: return dequant_q5_k;
    case GgmlType::Q6_K: return dequant_q6_k;
    default: return nullptr;
  }
}

BlockQuant block_quant(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: return quant_symmetric<4>;
    case GgmlType::Q4_1: return quant_affine<4>;
    case GgmlType::Q5_0: return quant_symmetric<5>;
    case GgmlType::Q5_1: return quant_affine<5>;
    case GgmlType::Q8_0: return quant_q8_0;
    default: return nullptr;
  }
}

bool is_plain_float(GgmlType type) { return type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16; }

std::string names_where(bool (*predicate)(GgmlType)) {
  std::string out;
  for (uint32_t id = 0; id < 64; ++id) {
    const auto* info = ggml_type_info(id);
    if (info && predicate(info->type)) out += (out.empty() ? "" : ", ") + std::string(info->name);
  }
  return out;
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  if (exp == 0x1F) return bits_float(sign | 0x7F800000 | (mant << 13));  // inf, nan
  if (exp != 0) return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return bits_float(sign);
  // Subnormal: mant * 2^-24, exact in float32.
  int e = -1;
  do {
    ++e;
    mant <<= 1;
  } while ((mant & 0x400) == 0);
  return bits_float(sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3FF) << 13));
}

uint16_t float_to_half(float f) {
  const uint32_t x = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7FFFFFFF;
  if (abs >= 0x7F800000) {  // inf or nan (numpy keeps a nan's top mantissa bits, never 0)
    if (abs == 0x7F800000) return sign | 0x7C00;
    uint16_t m = static_cast<uint16_t>((abs & 0x7FFFFF) >> 13);
    return sign | 0x7C00 | (m ? m : 1);
  }
  if (abs >= 0x47800000) return sign | 0x7C00;  // >= 65536: overflow
  const uint32_t e = abs >> 23;
  if (e < 113) {                        // below 2^-14: a subnormal half (or zero)
    if (abs < 0x33000000) return sign;  // below 2^-25 rounds to zero
    const uint32_t m = (abs & 0x7FFFFF) | 0x800000;
    const uint32_t shift = 126 - e;
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t h = ((e - 112) << 10) | ((abs & 0x7FFFFF) >> 13);
  const uint32_t rem = abs & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // may carry into infinity, as it should
  return sign | static_cast<uint16_t>(h);
}

float bf16_to_float(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t float_to_bf16(float f) {
  uint32_t n = float_bits(f);
  if ((n & 0x7FFFFFFF) > 0x7F800000) n = (n & 0xFFFF0000) | (64u << 16);
  const uint64_t rounded = (static_cast<uint64_t>(n) + (0x7FFF + ((n >> 16) & 1))) >> 16;
  return static_cast<uint16_t>(rounded);
}

bool ggml_can_dequantize(GgmlType type) {
  return is_plain_float(type) || type == GgmlType::F64 || block_dequant(type) != nullptr;
}

bool ggml_can_quantize(GgmlType type) { return is_plain_float(type) || block_quant(type) != nullptr; }

std::string ggml_dequantizable_names() { return names_where(ggml_can_dequantize); }
std::string ggml_quantizable_names() { return names_where(ggml_can_quantize); }

void ggml_dequantize(GgmlType type, const uint8_t* src, float* dst, uint64_t n) {
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); return;
    case GgmlType::F16:
      for (uint64_t k = 0; k < n; ++k) dst[k] = half_to_float(load_u16(src + 2 * k));
      return;
    case GgmlType::BF16:
      for (uint64_t k = 0; k < n; ++k) dst[k] = bf16_to_float(load_u16(src + 2 * k));
      return;
    case GgmlType::F64:
      for (uint64_t k = 0; k < n; ++k) {
        double v;
        std::memcpy(&v, src + 8 * k, 8);
        dst[k] = static_cast<float>(v);
      }
      return;
    default: break;
  }
  const BlockDequant block = block_dequant(type);
  const auto& info = ggml_type_info(type);
  if (!block)
    fail("gguf", "dequantizing ", info.name, " is not supported (supported: ", ggml_dequantizable_names(), ")");
  for (uint64_t k = 0; k < n / info.block_size; ++k) block(src + k * info.type_size, dst + k * info.block_size);
}

void ggml_quantize(GgmlType type, const float* src, uint8_t* dst, uint64_t n) {
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); return;
    case GgmlType::F16:
      for (uint64_t k = 0; k < n; ++k) store_u16(dst + 2 * k, float_to_half(src[k]));
      return;
    case GgmlType::BF16:
      for (uint64_t k = 0; k < n; ++k) store_u16(dst + 2 * k, float_to_bf16(src[k]));
      return;
    default: break;
  }
  const BlockQuant block = block_quant(type);
  const auto& info = ggml_type_info(type);
  if (!block) fail("gguf", "writing ", info.name, " is not supported (supported: ", ggml_quantizable_names(), ")");
  for (uint64_t k = 0; k < n / info.block_size; ++k) block(src + k * info.block_size, dst + k * info.type_size);
}

}  // namespace retain::io
