// word-cache.h - remembers the ids of recently encoded words. Natural text repeats a small set of
// words, so most pieces skip the merge loop entirely; this is where the encoder's speed comes from.
//
// Lookups take a string_view and allocate nothing. The cache is shared by all threads: 16 shards,
// each behind its own mutex, so concurrent encoders rarely wait on each other. A shard that fills
// half its slots is emptied and refilled, which keeps memory bounded without bookkeeping.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace retain::tok {

class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 256;  // longer words are rare; caching them would churn

  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool find(std::string_view word, std::vector<int32_t>& out) const;
  void insert(std::string_view word, const int32_t* ids, size_t count) const;

 private:
  static constexpr size_t kShardSlots = 4096;  // a power of two

  struct Slot {
    uint64_t hash = 0;  // 0 marks an empty slot
    uint32_t word_at, word_length, ids_at, ids_length;
  };
  struct alignas(64) Shard {
    std::mutex mutex;
    std::vector<Slot> slots;
    std::string words;         // the cached words, back to back
    std::vector<int32_t> ids;  // their ids, back to back
    size_t used = 0;
  };

  static uint64_t hash_of(std::string_view word);

  mutable std::array<Shard, 16> shards_;
};

}  // namespace retain::tok
