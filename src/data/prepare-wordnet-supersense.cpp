// prepare-wordnet-supersense.cpp - WordNet noun glosses labelled with their supersense (the
// lexicographer file): 24 classes (noun.Tops and noun.motive, with under 60 synsets each, are left out)
// in 6 class-incremental text-classification tasks of 4 classes, in lexicographer-file order, with the
// same number of examples per class. Labels are the name after "noun." with a leading space
// (" person"), the continuation of a template that ends in "Supersense:".
#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "data/source-wordnet.h"

namespace retain::data {

namespace {

const char* const kDir = "/usr/share/wordnet";
constexpr size_t kClassesPerTask = 4;
const std::set<std::string> kDropped = {"noun.Tops", "noun.motive"};

}  // namespace

Build build_wordnet_supersense(const PrepareOptions& options) {
  const Caps caps = caps_from(options, 1000, 200);
  const auto synsets = wordnet_read(kDir);
  // Definition -> lexicographer file; a definition shared by synsets of two files is ambiguous and dropped.
  std::map<std::string, int> label_of;
  std::set<std::string> ambiguous;
  for (const auto& synset : synsets) {
    if (synset.pos != 'n' || kDropped.count(wordnet_lexname(synset.lex_filenum))) continue;
    const auto [it, inserted] = label_of.emplace(synset.definition, synset.lex_filenum);
    if (!inserted && it->second != synset.lex_filenum) ambiguous.insert(synset.definition);
  }
  std::map<int, std::vector<Pair>> by_class;  // in lexicographer-file order
  for (const auto& [definition, lex] : label_of) {
    if (ambiguous.count(definition) == 0) {
      by_class[lex].push_back({definition, " " + wordnet_lexname(lex).substr(5)});
    }
  }
  const int64_t per_class_train = caps.train / static_cast<int64_t>(kClassesPerTask);
  const int64_t per_class_valid = caps.valid / static_cast<int64_t>(kClassesPerTask);
  const int64_t per_class_test = caps.test / static_cast<int64_t>(kClassesPerTask);
  Build build;
  build.sources = {std::string(kDir) + "/data.noun", std::string(kDir) + "/data.verb", std::string(kDir) + "/data.adj",
                   std::string(kDir) + "/data.adv"};
  build.settings = {{"train_per_class", per_class_train},
                    {"valid_per_class", per_class_valid},
                    {"test_per_class", per_class_test},
                    {"classes_per_task", kClassesPerTask},
                    {"dropped_classes", kDropped}};
  std::vector<int> classes;
  for (const auto& [lex, items] : by_class) {
    classes.push_back(lex);
    build.facts["classes"][wordnet_lexname(lex)] = {{"label", items.front().second}, {"available", items.size()}};
  }
  for (size_t first = 0; first + kClassesPerTask <= classes.size(); first += kClassesPerTask) {
    config::TaskConfig task;
    task.name = "supersense-" + std::to_string(first / kClassesPerTask + 1);
    task.kind = config::TaskKind::TextClassification;
    task.template_ = "Gloss: {text}\nSupersense:";
    task.metric = "accuracy";
    task.max_new_tokens = 8;
    Splits splits;
    std::vector<std::string> names;
    for (size_t k = first; k < first + kClassesPerTask; ++k) {
      const std::string& name = wordnet_lexname(classes[k]);
      names.push_back(name);
      const Splits part = split_items(by_class[classes[k]], derive_seed(options.seed, name),
                                      {per_class_train, per_class_valid, per_class_test});
      splits.train.insert(splits.train.end(), part.train.begin(), part.train.end());
      splits.valid.insert(splits.valid.end(), part.valid.begin(), part.valid.end());
      splits.test.insert(splits.test.end(), part.test.begin(), part.test.end());
    }
    seeded_shuffle(splits.train, derive_seed(options.seed, task.name + "/train"));
    seeded_shuffle(splits.valid, derive_seed(options.seed, task.name + "/valid"));
    seeded_shuffle(splits.test, derive_seed(options.seed, task.name + "/test"));
    add_jsonl_task(build, task, splits, names);
  }
  return build;
}

}  // namespace retain::data
