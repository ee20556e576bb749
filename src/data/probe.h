// probe.h - a multiple-choice probe of general ability, scored by log-likelihood before and after a
// stream ([eval] probe): JSON Lines, one question per line,
//   {"question": "...", "choices": [" a", " b", ...], "answer": 0}
// where each choice is the continuation of the question (so it usually starts with a space) and
// "answer" is the index of the right one. `retain data prepare wordnet-probe` writes one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace retain::data {

struct ProbeItem {
  std::string question;
  std::vector<std::string> choices;  // at least 2, none empty
  int64_t answer = 0;                // index into choices
};

// Every item of `path`; a line without a question, with fewer than 2 choices, an empty choice or an
// answer outside them is an error naming the file and the line.
std::vector<ProbeItem> probe_read(const std::string& path);

// One JSON line for `item` (without the newline), as probe_read reads it.
std::string probe_line(const ProbeItem& item);

}  // namespace retain::data
