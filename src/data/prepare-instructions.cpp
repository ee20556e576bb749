// prepare-instructions.cpp - five generation tasks from four Debian sources, in stream order:
//   define-word         WordNet: "lemma (pos)" -> the first clause of its definition (lemmas with one
//                       sense in that part of speech, so the answer is unique)        rouge_l
//   kjv-to-web          KJV verse -> the same verse in the World English Bible        rouge_l
//   acronym             VERA acronym -> its expansion (acronyms with one entry)       rouge_l
//   en-fr               FreeDict English word -> its French word (one translation)    exact_match
//   reverse-dictionary  WordNet: definition -> the synset's only lemma, for synsets that define-word
//                       does not use (their lemma has other senses)                    exact_match
// Answers have at most 12 words and begin with a space (they continue a template ending in ':').
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "data/source-dictd.h"
#include "data/source-sword.h"
#include "data/source-wordnet.h"
#include "data/text-file.h"

namespace retain::data {

namespace {

const char* const kWordnetDir = "/usr/share/wordnet";
const char* const kVera = "/usr/share/dictd/vera";
const char* const kFreedict = "/usr/share/dictd/freedict-eng-fra";
constexpr int64_t kMaxAnswerWords = 12;

// Keeps the first answer for each prompt, in source order, so no prompt has two answers.
std::vector<Pair> unique_prompts(const std::vector<Pair>& pairs) {
  std::set<std::string> seen;
  std::vector<Pair> unique;
  for (const auto& pair : pairs) {
    if (seen.insert(pair.first).second) unique.push_back(pair);
  }
  return unique;
}

// Splits the synsets between the two WordNet tasks: a synset with a lemma that has one sense in its
// part of speech defines that lemma; a synset with one lemma that has other senses is asked for it.
void wordnet_pairs(const std::vector<Synset>& synsets, std::vector<Pair>& define, std::vector<Pair>& reverse) {
  const auto monosemous_lemmas = wordnet_monosemous_lemmas(synsets);
  for (size_t i = 0; i < synsets.size(); ++i) {
    const Synset& synset = synsets[i];
    const std::string pos = wordnet_pos_name(synset.pos);
    const std::string clause = synset.definition.substr(0, synset.definition.find(';'));
    if (const std::string* monosemous = monosemous_lemmas[i]) {
      if (!clause.empty() && word_count(clause) <= kMaxAnswerWords) {
        define.push_back({*monosemous + " (" + pos + ")", " " + clause});
      }
    } else if (synset.lemmas.size() == 1) {
      reverse.push_back({synset.definition, " " + synset.lemmas.front()});
    }
  }
  // Two synsets with the same definition and different lemmas would make the answer ambiguous.
  std::map<std::string, int> definitions;
  for (const auto& pair : reverse) ++definitions[pair.first];
  std::vector<Pair> unambiguous;
  for (const auto& pair : reverse) {
    if (definitions[pair.first] == 1) unambiguous.push_back(pair);
  }
  reverse = unambiguous;
}

std::vector<Pair> bible_pairs() {
  std::map<std::string, std::string> modern;
  for (auto& verse : sword_read("engWEB2015eb")) modern.emplace(verse.ref, std::move(verse.text));
  std::vector<Pair> pairs;
  for (const auto& verse : sword_read("engKJV2006eb")) {
    const auto it = modern.find(verse.ref);
    if (it != modern.end() && word_count(it->second) <= kMaxAnswerWords)
      pairs.push_back({verse.text, " " + it->second});
  }
  return unique_prompts(pairs);
}

// The lines of a dictd entry after its headword line, trimmed, empty ones dropped.
std::vector<std::string> entry_lines(const std::string& text, std::string& headword) {
  std::vector<std::string> lines;
  size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = collapse_spaces(text.substr(start, end - start));
    start = end + 1;
    if (first) {
      headword = line;
      first = false;
    } else if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

// "Random Access Memory (RAM) [hardware]" -> "Random Access Memory": the expansion without its
// bracketed topics and the quoted spelling variants VERA appends after a comma.
std::string acronym_expansion(const std::string& text) {
  std::string out;
  int depth = 0;
  for (char c : text) {
    if (c == '(' || c == '[') ++depth;
    if (depth == 0) out += c;
    if ((c == ')' || c == ']') && depth > 0) --depth;
  }
  const size_t quoted = out.find(", \"");
  if (quoted != std::string::npos) out.erase(quoted);
  return collapse_spaces(out);
}

std::vector<Pair> acronym_pairs() {
  const auto entries = dictd_read(kVera);
  std::map<std::string, int> entries_per_key;
  for (const auto& entry : entries) ++entries_per_key[entry.key];
  std::vector<Pair> pairs;
  for (const auto& entry : entries) {
    if (entries_per_key[entry.key] != 1) continue;
    std::string acronym;
    std::string expansion;
    for (const auto& line : entry_lines(entry.text, acronym)) expansion += (expansion.empty() ? "" : " ") + line;
    expansion = acronym_expansion(expansion);
    if (!acronym.empty() && !expansion.empty() && word_count(expansion) <= kMaxAnswerWords) {
      pairs.push_back({acronym, " " + expansion});
    }
  }
  return unique_prompts(pairs);
}

// FreeDict entries "word /phonetics/" + one line with a single French word or phrase (entries listing
// several senses "1. ..." or synonyms "a, b" are left out, and so are words spelled the same in French).
std::vector<Pair> translation_pairs() {
  const auto entries = dictd_read(kFreedict);
  std::map<std::string, int> entries_per_key;
  for (const auto& entry : entries) ++entries_per_key[entry.key];
  std::vector<Pair> pairs;
  for (const auto& entry : entries) {
    if (entries_per_key[entry.key] != 1) continue;
    std::string headword;
    const auto lines = entry_lines(entry.text, headword);
    headword = collapse_spaces(headword.substr(0, headword.find(" /")));
    if (lines.size() != 1 || headword.empty()) continue;
    const std::string& french = lines.front();
    const bool numbered = !french.empty() && std::isdigit(static_cast<unsigned char>(french[0]));
    if (numbered || french.find(',') != std::string::npos || ascii_lower(french) == ascii_lower(headword) ||
        word_count(french) > kMaxAnswerWords) {
      continue;
    }
    pairs.push_back({headword, " " + french});
  }
  return unique_prompts(pairs);
}

}  // namespace

Build build_instructions(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 1000, 200);
  std::vector<Pair> define, reverse;
  wordnet_pairs(wordnet_read(kWordnetDir), define, reverse);
  struct Source {
    config::TaskConfig task;
    std::vector<Pair> pairs;
  };
  const std::vector<Source> sources = {
      {generation_task("define-word", "Define the word.\nWord: {input}\nDefinition:", "rouge_l", 32), define},
      {generation_task("kjv-to-web",
                       "Rewrite the King James verse in modern English.\nKJV: {input}\nModern:", "rouge_l", 48),
       bible_pairs()},
      {generation_task("acronym", "Expand the acronym.\nAcronym: {input}\nExpansion:", "rouge_l", 32), acronym_pairs()},
      {generation_task("en-fr", "Translate the English word into French.\nEnglish: {input}\nFrench:", "exact_match",
                       16),
       translation_pairs()},
      {generation_task("reverse-dictionary", "Which word has this meaning?\nMeaning: {input}\nWord:", "exact_match",
                       16),
       reverse},
  };
  Build build;
  build.sources = {std::string(kWordnetDir) + "/data.{noun,verb,adj,adv}", "mod2imp engKJV2006eb",
                   "mod2imp engWEB2015eb", std::string(kVera) + ".{index,dict.dz}",
                   std::string(kFreedict) + ".{index,dict.dz}"};
  build.settings = {{"max_train", caps.train},
                    {"max_valid", caps.valid},
                    {"max_test", caps.test},
                    {"max_answer_words", kMaxAnswerWords}};
  for (const auto& source : sources) {
    build.facts["available"][source.task.name] = source.pairs.size();
    add_jsonl_task(build, source.task, split_items(source.pairs, derive_seed(options.seed, source.task.name), caps));
  }
  return build;
}

}  // namespace retain::data
