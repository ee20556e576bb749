// source-wordnet.cpp - parses WordNet data files: "offset lex_filenum ss_type w_cnt word lex_id ... | gloss".
#include "data/source-wordnet.h"

#include <sstream>

#include "data/text-file.h"
#include "error.h"

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

Synset parse_line(const std::string& line, const std::string& path, size_t line_number) {
  const size_t bar = line.find(" | ");
  if (bar == std::string::npos) fail("data", path, ":", line_number, ": no gloss (\" | \")");
  std::istringstream head(line.substr(0, bar));
  std::string offset, lex, type, count;
  head >> offset >> lex >> type >> count;
  Synset synset;
  try {
    synset.lex_filenum = std::stoi(lex);
    const int words = std::stoi(count, nullptr, 16);
    for (int i = 0; i < words; ++i) {
      std::string word, lex_id;
      head >> word >> lex_id;
      synset.lemmas.push_back(lemma_text(word));
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
  for (const char* part : {"noun", "verb", "adj", "adv"}) {
    const std::string path = dir + "/data." + part;
    std::istringstream lines(file_read(path));
    std::string line;
    size_t line_number = 0;
    while (std::getline(lines, line)) {
      ++line_number;
      if (line.rfind("  ", 0) == 0) continue;  // the licence header
      synsets.push_back(parse_line(line, path, line_number));
    }
  }
  return synsets;
}

const std::string& wordnet_lexname(int lex_filenum) { return kLexnames.at(static_cast<size_t>(lex_filenum)); }

std::string wordnet_pos_name(char pos) {
  switch (pos) {
    case 'n': return "noun";
    case 'v': return "verb";
    case 'r': return "adverb";
    default: return "adjective";
  }
}

}  // namespace retain::data
