// words.h - a setting that is a closed set of words in a stream file ("cosine", "prototype"), held as an
// enum past the config boundary. Each enum lists its words once, in a specialisation of Words<E>;
// reading, writing and error messages all go through that list.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace retain::config {

// Specialise with `static constexpr std::pair<E, std::string_view> list[] = {{E::A, "a"}, ...};`.
template <typename E>
struct Words;

template <typename E>
std::string_view word_of(E value) {
  for (const auto& [e, word] : Words<E>::list) {
    if (e == value) return word;
  }
  return "?";
}

template <typename E>
std::optional<E> from_word(std::string_view word) {
  for (const auto& [e, w] : Words<E>::list) {
    if (w == word) return e;
  }
  return std::nullopt;
}

// "a, b, c": the words, for "must be one of ..." messages.
template <typename E>
std::string words_joined() {
  std::string joined;
  for (const auto& [e, word] : Words<E>::list) {
    (void)e;
    joined += (joined.empty() ? "" : ", ") + std::string(word);
  }
  return joined;
}

}  // namespace retain::config
