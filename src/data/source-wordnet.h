// source-wordnet.h - WordNet 3.0 synsets from the Debian package wordnet-base
// (/usr/share/wordnet/data.{noun,verb,adj,adv}; format: wndb(5WN)).
#pragma once

#include <string>
#include <vector>

namespace retain::data {

struct Synset {
  char pos = 'n';                   // n, v, a, s (adjective satellite), r
  int lex_filenum = 0;              // the lexicographer file, 0..44 (wordnet_lexname)
  std::vector<std::string> lemmas;  // underscores as spaces, adjective markers like "(a)" removed
  std::string definition;           // the gloss without its quoted examples
};

// All synsets of the four data files in `dir`, in file order (noun, verb, adj, adv).
std::vector<Synset> wordnet_read(const std::string& dir);

// "noun.person" for 18: the standard lexicographer file names (lexnames(5WN)).
const std::string& wordnet_lexname(int lex_filenum);

// "noun", "verb", "adjective", "adverb".
std::string wordnet_pos_name(char pos);

}  // namespace retain::data
