// word-cache.cpp - open addressing with linear probing, one table per shard.
#include "tok/word-cache.h"

#include <cstdint>
#include <functional>

namespace retain::tok {

uint64_t WordCache::hash_of(std::string_view word) {
  uint64_t h = std::hash<std::string_view>{}(word);
  return h == 0 ? 1 : h;
}

bool WordCache::find(std::string_view word, std::vector<int32_t>& out) const {
  const uint64_t h = hash_of(word);
  Shard& shard = shards_[h >> 60];
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.slots.empty()) return false;
  const size_t mask = kShardSlots - 1;
  for (size_t i = (h >> 8) & mask;; i = (i + 1) & mask) {
    const Slot& slot = shard.slots[i];
    if (slot.hash == 0) return false;
    if (slot.hash == h && std::string_view(shard.words.data() + slot.word_at, slot.word_length) == word) {
      const int32_t* ids = shard.ids.data() + slot.ids_at;
      out.insert(out.end(), ids, ids + slot.ids_length);
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t count) const {
  if (word.size() > kMaxWordBytes) return;
  const uint64_t h = hash_of(word);
  Shard& shard = shards_[h >> 60];
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.slots.empty() || shard.used >= kShardSlots / 2) {
    shard.slots.assign(kShardSlots, Slot{});
    shard.words.clear();
    shard.ids.clear();
    shard.used = 0;
  }
  const size_t mask = kShardSlots - 1;
  size_t i = (h >> 8) & mask;
  for (; shard.slots[i].hash != 0; i = (i + 1) & mask) {
    const Slot& slot = shard.slots[i];
    // Another thread may have cached the same word since our lookup.
    if (slot.hash == h && std::string_view(shard.words.data() + slot.word_at, slot.word_length) == word) return;
  }
  shard.slots[i] = Slot{h, static_cast<uint32_t>(shard.words.size()), static_cast<uint32_t>(word.size()),
                        static_cast<uint32_t>(shard.ids.size()), static_cast<uint32_t>(count)};
  shard.words.append(word);
  shard.ids.insert(shard.ids.end(), ids, ids + count);
  ++shard.used;
}

}  // namespace retain::tok
