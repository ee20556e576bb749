// prepare-wordnet-relations.cpp - four generation tasks over WordNet 3.0's relations, in stream order:
//   hypernym       a noun -> the first lemma of its hypernym ("@")                     exact_match
//   part-of        a noun -> the first lemma of what it is a part of ("#p")            exact_match
//   antonym        an adjective -> its antonym ("!", a pointer from word to word)       exact_match
//   verb-hypernym  a verb -> the first lemma of the verb it is a way of ("@")          exact_match
// The asked word has one sense in its part of speech and its synset exactly one such relation, so the
// answer is unique (antonyms: the first pair in file order for each word). Answers begin with a space.
#include <map>
#include <set>
#include <string>

#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "data/source-wordnet.h"
#include "data/text-file.h"

namespace retain::data {

namespace {

const char* const kDir = "/usr/share/wordnet";

struct Relations {
  std::vector<Pair> hypernym, part_of, antonym, verb_hypernym;
};

Relations relation_pairs(const std::vector<Synset>& synsets) {
  const auto monosemous_lemmas = wordnet_monosemous_lemmas(synsets);
  Relations relations;
  std::set<std::string> antonym_asked;
  for (size_t i = 0; i < synsets.size(); ++i) {
    const Synset& synset = synsets[i];
    const std::string* monosemous = monosemous_lemmas[i];
    std::map<std::string, std::vector<const WordnetPointer*>> by_symbol;
    for (const auto& pointer : synset.pointers) by_symbol[pointer.symbol].push_back(&pointer);
    const auto only = [&](const std::string& symbol) -> const std::string* {
      const auto found = by_symbol.find(symbol);
      if (found == by_symbol.end() || found->second.size() != 1) return nullptr;
      return &synsets[found->second.front()->target].lemmas.front();
    };
    if (monosemous != nullptr && synset.pos == 'n') {
      if (const auto* hypernym = only("@")) relations.hypernym.push_back({*monosemous, " " + *hypernym});
      if (const auto* whole = only("#p")) relations.part_of.push_back({*monosemous, " " + *whole});
    }
    if (monosemous != nullptr && synset.pos == 'v') {
      if (const auto* hypernym = only("@")) relations.verb_hypernym.push_back({*monosemous, " " + *hypernym});
    }
    if (synset.pos == 'a' || synset.pos == 's') {
      for (const auto* pointer : by_symbol["!"]) {
        if (pointer->source_word == 0 || pointer->target_word == 0) continue;
        const std::string& word = synset.lemmas[static_cast<size_t>(pointer->source_word - 1)];
        const std::string& opposite = synsets[pointer->target].lemmas[static_cast<size_t>(pointer->target_word - 1)];
        if (antonym_asked.insert(ascii_lower(word)).second) relations.antonym.push_back({word, " " + opposite});
      }
    }
  }
  return relations;
}

config::TaskConfig exact_match_task(const std::string& name, const std::string& template_) {
  return generation_task(name, template_, "exact_match", 8);
}

}  // namespace

Build build_wordnet_relations(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 1000, 200);
  const auto relations = relation_pairs(wordnet_read(kDir));
  const std::vector<std::pair<config::TaskConfig, const std::vector<Pair>*>> tasks = {
      {exact_match_task("hypernym", "Name the broader kind.\nWord: {input}\nKind:"), &relations.hypernym},
      {exact_match_task("part-of", "Name the whole it is a part of.\nPart: {input}\nWhole:"), &relations.part_of},
      {exact_match_task("antonym", "Give the opposite.\nAdjective: {input}\nOpposite:"), &relations.antonym},
      {exact_match_task("verb-hypernym", "Name the more general verb.\nVerb: {input}\nMore general:"),
       &relations.verb_hypernym},
  };
  Build build;
  build.sources = {std::string(kDir) + "/data.{noun,verb,adj,adv}"};
  build.settings = {{"max_train", caps.train}, {"max_valid", caps.valid}, {"max_test", caps.test}};
  for (const auto& [task, pairs] : tasks) {
    build.facts["available"][task.name] = pairs->size();
    add_jsonl_task(build, task, split_items(*pairs, derive_seed(options.seed, "wordnet-relations/" + task.name), caps));
  }
  return build;
}

}  // namespace retain::data
