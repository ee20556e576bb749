// source-wordnet.cpp - parses WordNet data files: "offset lex_filenum ss_type w_cnt word lex_id ... | gloss".
#include "data/source-wordnet.h"

#include <cstdint>
#include <map>
#include <sstream>
#include <utility>

#include "data/text-file.h"
#include "error.h"
#include "io/file-read.h"

namespace retain::data {

namespace {

const std::vector<std::string> kLexnames = {"adj.all",          "adj.pert",           "adv.all",
                                            "noun.Tops",        "noun.act",           "noun.animal",
                                            "noun.artifact",    "noun.attribute",     "noun.body",
                                            "noun.cognition",   "noun.communication", "noun.event",
                                            "noun.feeling",     "noun.food",          "noun.group",
                                            "noun.location",    "noun.motive",        "noun.object",
                                            "noun.person",      "noun.phenomenon",    "noun.plant",
                                            "noun.possession",  "noun.process",       "noun.quantity",
                                            "noun.relation",    "noun.shape",         "noun.state",
                                            "noun.substance",   "noun.time",          "verb.body",
                                            "verb.change",      "verb.cognition",     "verb.communication",
                                            "verb.competition", "verb.consumption",   "verb.contact",
                                            "verb.creation",    "verb.emotion",       "verb.motion",
                                            "verb.perception",  "verb.possession",    "verb.social",
                                            "verb.stative",     "verb.weather",       "adj.ppl"};

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

// "bank_building" -> "bank building"; "galore(ip)" -> "galore".
std::string lemma_text(std::string word) {
  if (!word.empty() && word.back() == ')') word.erase(word.rfind('('));
  for (char& c : word) {
    if (c == '_') c = ' ';
  }
  return word;
}

// The gloss up to its first quoted example: `a bank; "he sat on the bank"` -> "a bank".
std::string definition_of(const std::string& gloss) {
  std::string definition = trim(gloss.substr(0, gloss.find('"')));
  while (!definition.empty() && (definition.back() == ';' || definition.back() == ' ')) definition.pop_back();
  return definition;
}

// A synset's place in its data file: the part ('n', 'v', 'a' for adjectives and satellites, 'r')
// and the byte offset its line starts with, which is how pointers name their targets.
using Address = std::pair<char, uint64_t>;

char part_of(char pos) { return pos == 's' ? 'a' : pos; }

// A pointer as the file writes it, before its target is resolved to an index.
struct RawPointer {
  WordnetPointer pointer;
  Address target;
};

Synset parse_line(const std::string& line, const std::string& path, size_t line_number, uint64_t& offset,
                  std::vector<RawPointer>& pointers) {
  const size_t bar = line.find(" | ");
  if (bar == std::string::npos) fail("data", path, ":", line_number, ": no gloss (\" | \")");
  std::istringstream head(line.substr(0, bar));
  std::string offset_text, lex, type, count;
  head >> offset_text >> lex >> type >> count;
  Synset synset;
  try {
    synset.lex_filenum = std::stoi(lex);
    const int words = std::stoi(count, nullptr, 16);
    for (int i = 0; i < words; ++i) {
      std::string word, lex_id;
      head >> word >> lex_id;
      synset.lemmas.push_back(lemma_text(word));
    }
    offset = std::stoull(offset_text);
    std::string count_text;
    head >> count_text;
    const int count = std::stoi(count_text);
    for (int i = 0; i < count; ++i) {
      std::string symbol, target, target_pos, words;
      head >> symbol >> target >> target_pos >> words;
      if (!head || target_pos.size() != 1 || words.size() != 4) throw std::invalid_argument("pointer");
      RawPointer raw;
      raw.pointer.symbol = symbol;
      raw.pointer.source_word = std::stoi(words.substr(0, 2), nullptr, 16);
      raw.pointer.target_word = std::stoi(words.substr(2), nullptr, 16);
      raw.target = {part_of(target_pos[0]), std::stoull(target)};
      pointers.push_back(raw);
    }
  } catch (const std::exception&) {
    fail("data", path, ":", line_number, ": not a WordNet data line");
  }
  if (!head || type.size() != 1 || synset.lex_filenum < 0 || synset.lex_filenum >= static_cast<int>(kLexnames.size()) ||
      synset.lemmas.empty()) {
    fail("data", path, ":", line_number, ": not a WordNet data line");
  }
  synset.pos = type[0];
  synset.definition = definition_of(line.substr(bar + 3));
  return synset;
}

}  // namespace

std::vector<Synset> wordnet_read(const std::string& dir) {
  std::vector<Synset> synsets;
  std::map<Address, size_t> index;
  struct Unresolved {
    size_t synset;
    std::vector<RawPointer> pointers;
    const char* file;  // "noun", ... (the path is built only for an error)
    size_t line;
  };
  std::vector<Unresolved> unresolved;
  for (const auto& [part, name] :
       {std::pair<char, const char*>{'n', "noun"}, {'v', "verb"}, {'a', "adj"}, {'r', "adv"}}) {
    const std::string path = dir + "/data." + name;
    std::istringstream lines(io::file_read(path, "data"));
    std::string line;
    size_t line_number = 0;
    while (std::getline(lines, line)) {
      ++line_number;
      if (line.rfind("  ", 0) == 0) continue;  // the licence header
      uint64_t offset = 0;
      std::vector<RawPointer> pointers;
      synsets.push_back(parse_line(line, path, line_number, offset, pointers));
      index[{part, offset}] = synsets.size() - 1;
      unresolved.push_back({synsets.size() - 1, std::move(pointers), name, line_number});
    }
  }
  for (auto& [synset, pointers, file, line] : unresolved) {
    const auto where = [&, file = file, line = line] { return dir + "/data." + file + ":" + std::to_string(line); };
    for (auto& raw : pointers) {
      const auto target = index.find(raw.target);
      if (target == index.end()) {
        fail("data", where(), ": pointer ", raw.pointer.symbol, " to ", raw.target.second, " ", raw.target.first,
             ": no such synset");
      }
      const auto words = [&](size_t i) { return static_cast<int>(synsets[i].lemmas.size()); };
      if (raw.pointer.source_word > words(synset) || raw.pointer.target_word > words(target->second)) {
        fail("data", where(), ": pointer ", raw.pointer.symbol, " names word ", raw.pointer.source_word, " -> ",
             raw.pointer.target_word, ", past the synsets' words");
      }
      raw.pointer.target = target->second;
      synsets[synset].pointers.push_back(raw.pointer);
    }
  }
  return synsets;
}

const std::string& wordnet_lexname(int lex_filenum) { return kLexnames.at(static_cast<size_t>(lex_filenum)); }

std::vector<const std::string*> wordnet_monosemous_lemmas(const std::vector<Synset>& synsets) {
  const auto pos_of = [](const Synset& synset) { return synset.pos == 's' ? 'a' : synset.pos; };
  std::map<std::pair<char, std::string>, int> senses;  // (part of speech, lower-case lemma) -> synsets
  for (const auto& synset : synsets) {
    for (const auto& lemma : synset.lemmas) ++senses[{pos_of(synset), ascii_lower(lemma)}];
  }
  std::vector<const std::string*> monosemous(synsets.size(), nullptr);
  for (size_t i = 0; i < synsets.size(); ++i) {
    for (const auto& lemma : synsets[i].lemmas) {
      if (senses[{pos_of(synsets[i]), ascii_lower(lemma)}] == 1) {
        monosemous[i] = &lemma;
        break;
      }
    }
  }
  return monosemous;
}

std::string wordnet_pos_name(char pos) {
  switch (pos) {
    case 'n': return "noun";
    case 'v': return "verb";
    case 'r': return "adverb";
    default: return "adjective";
  }
}

}  // namespace retain::data
