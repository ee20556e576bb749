// shuffle.h - seeded shuffles that give the same order on every platform and standard library:
// std::mt19937_64 is fully specified, but std::shuffle and std::uniform_int_distribution are not,
// so the index draw and Fisher-Yates are written out here.
#pragma once

#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

namespace retain::data {

// Uniform in [0, n), n > 0: draws above the largest multiple of n are rejected, so r % n has no bias.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  const uint64_t excess = (max % n + 1) % n;  // 2^64 mod n
  uint64_t r = rng();
  while (excess != 0 && r > max - excess) r = rng();
  return r % n;
}

// Fisher-Yates from the back: position i swaps with a uniform position in [0, i].
template <typename T>
void seeded_shuffle(std::vector<T>& items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = items.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(items[i - 1], items[j]);
  }
}

// A seed for one named use of the run seed (FNV-1a of the tag, mixed with the seed), so the class
// "noun.person" and the task "acronym" draw independent orders from one --seed.
inline uint64_t derive_seed(uint64_t seed, std::string_view tag) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : tag) h = (h ^ c) * 1099511628211ull;
  return std::mt19937_64(seed ^ h)();
}

}  // namespace retain::data
