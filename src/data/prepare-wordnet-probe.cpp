// prepare-wordnet-probe.cpp - a multiple-choice probe of general knowledge for [eval] probe
// (data/probe.h): a WordNet gloss, then four words of its part of speech, one of them the synset's
// own. Words are the first lemma of a synset when it is one lower-case word of 3 to 12 letters that
// heads no other synset (so the gloss fits one word only); the three wrong choices are drawn from
// the other such words of the same part of speech, never a lemma of the asked synset.
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "data/prepare-internal.h"
#include "data/probe.h"
#include "data/shuffle.h"
#include "data/source-wordnet.h"
#include "error.h"

namespace retain::data {

namespace {

const char* const kDir = "/usr/share/wordnet";
constexpr size_t kChoices = 4;

bool plain_word(const std::string& word) {
  if (word.size() < 3 || word.size() > 12) return false;
  for (char c : word) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

}  // namespace

Build build_wordnet_probe(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 0, 400);
  const auto synsets = wordnet_read(kDir);
  std::map<std::string, int> heads;  // word -> synsets it is the first lemma of
  for (const auto& synset : synsets) ++heads[synset.lemmas.front()];
  struct Candidate {
    const Synset* synset;
    std::string word;
  };
  std::map<char, std::vector<Candidate>> by_pos;  // 's' (adjective satellite) counts as 'a'
  for (const auto& synset : synsets) {
    const std::string& word = synset.lemmas.front();
    if (!plain_word(word) || heads[word] != 1 || synset.definition.empty()) continue;
    by_pos[synset.pos == 's' ? 'a' : synset.pos].push_back({&synset, word});
  }
  for (const auto& [pos, candidates] : by_pos) {
    if (candidates.size() < 2 * kChoices) {
      fail("data", kDir, ": only ", candidates.size(), " ", wordnet_pos_name(pos), "s to choose from");
    }
  }
  std::vector<Candidate> asked;
  for (const auto& [pos, candidates] : by_pos) asked.insert(asked.end(), candidates.begin(), candidates.end());
  seeded_shuffle(asked, derive_seed(options.seed, "wordnet-probe/items"));
  if (static_cast<int64_t>(asked.size()) > caps.test) asked.resize(static_cast<size_t>(caps.test));

  std::mt19937_64 rng(derive_seed(options.seed, "wordnet-probe/choices"));
  std::string lines;
  for (const auto& [synset, word] : asked) {
    const auto& pool = by_pos[synset->pos == 's' ? 'a' : synset->pos];
    const std::set<std::string> own(synset->lemmas.begin(), synset->lemmas.end());
    std::set<std::string> wrong;
    while (wrong.size() + 1 < kChoices) {
      const std::string& other = pool[uniform_below(rng, pool.size())].word;
      if (own.count(other) == 0) wrong.insert(other);
    }
    ProbeItem item;
    item.question = "Definition: " + synset->definition + "\nWord:";
    item.answer = static_cast<int64_t>(uniform_below(rng, kChoices));
    auto next_wrong = wrong.begin();
    for (size_t c = 0; c < kChoices; ++c) {
      item.choices.push_back(" " + (static_cast<int64_t>(c) == item.answer ? word : *next_wrong++));
    }
    lines += probe_line(item) + "\n";
  }
  Build build;
  build.files["probe.jsonl"] = lines;
  build.sources = {std::string(kDir) + "/data.noun", std::string(kDir) + "/data.verb", std::string(kDir) + "/data.adj",
                   std::string(kDir) + "/data.adv"};
  build.settings = {{"items", asked.size()}, {"choices", kChoices}};
  for (const auto& [pos, candidates] : by_pos) build.facts["words"][wordnet_pos_name(pos)] = candidates.size();
  build.tasks_note = "# probe.jsonl: " + std::to_string(asked.size()) + " questions of " + std::to_string(kChoices) +
                     " choices (chance " + std::to_string(100 / kChoices) + " %): [eval] probe = \"probe.jsonl\"\n";
  return build;
}

}  // namespace retain::data
