// source-wordnet.h - WordNet 3.0 synsets from the Debian package wordnet-base
// (/usr/share/wordnet/data.{noun,verb,adj,adv}; format: wndb(5WN)).
#pragma once

#include <string>
#include <vector>

namespace retain::data {

// A relation from one synset (or one of its words) to another (wninput(5WN), "Pointers").
struct WordnetPointer {
  std::string symbol;   // "@" hypernym, "!" antonym, "#p" part holonym, ...
  size_t target = 0;    // the index of the target synset in wordnet_read's result
  int source_word = 0;  // a lexical pointer: this synset's word (1-based); 0 = between synsets
  int target_word = 0;  // the target's word (1-based); 0 = between synsets
};

struct Synset {
  char pos = 'n';                        // n, v, a, s (adjective satellite), r
  int lex_filenum = 0;                   // the lexicographer file, 0..44 (wordnet_lexname)
  std::vector<std::string> lemmas;       // underscores as spaces, adjective markers like "(a)" removed
  std::vector<WordnetPointer> pointers;  // in file order
  std::string definition;                // the gloss without its quoted examples
};

// All synsets of the four data files in `dir`, in file order (noun, verb, adj, adv), their
// pointers resolved (a pointer to a synset no file holds is an error naming the line).
std::vector<Synset> wordnet_read(const std::string& dir);

// "noun.person" for 18: the standard lexicographer file names (lexnames(5WN)).
const std::string& wordnet_lexname(int lex_filenum);

// "noun", "verb", "adjective", "adverb".
std::string wordnet_pos_name(char pos);

// For each synset, in the same order, its first lemma that no other synset of its part of speech has
// (adjective satellites count as adjectives; case ignored), or nullptr: a word with one meaning.
std::vector<const std::string*> wordnet_monosemous_lemmas(const std::vector<Synset>& synsets);

}  // namespace retain::data
