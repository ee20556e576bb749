// prepare-general-text.cpp - a plain-text corpus for continual pre-training (kind = text) and for
// measuring general-text perplexity drift: KJV passages, WordNet definitions, fortunes and VERA
// acronyms, an equal byte budget each, as paragraphs separated by blank lines. 5% of the paragraphs
// form heldout.txt. Offensive fortune files (ethnic, men-women, off/) are not read.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>

#include "data/prepare-internal.h"
#include "data/shuffle.h"
#include "data/source-dictd.h"
#include "data/source-fortune.h"
#include "data/source-sword.h"
#include "data/source-wordnet.h"
#include "data/text-file.h"
#include "error.h"

namespace retain::data {

namespace {

const char* const kWordnetDir = "/usr/share/wordnet";
const char* const kVera = "/usr/share/dictd/vera";
const char* const kFortuneDir = "/usr/share/games/fortunes";
// The English files of fortunes and fortunes-min, without ethnic and men-women (offensive) and
// ascii-art (pictures, not prose).
const char* const kFortuneFiles[] = {
    "art",         "computers",  "cookie",   "debian",     "definitions",  "disclaimer",    "drugs",   "education",
    "food",        "fortunes",   "goedel",   "humorists",  "kids",         "knghtbrd",      "law",     "linux",
    "linuxcookie", "literature", "love",     "magic",      "medicine",     "miscellaneous", "news",    "paradoxum",
    "people",      "perl",       "pets",     "platitudes", "politics",     "pratchett",     "riddles", "science",
    "songs-poems", "sports",     "startrek", "tao",        "translate-me", "wisdom",        "work",    "zippy"};
constexpr int64_t kDefaultBytes = 4'000'000;
constexpr size_t kLinesPerParagraph = 8;  // WordNet and VERA entries are one line each
constexpr size_t kPassageBytes = 300;     // KJV: verses of one chapter until the passage is this long
constexpr int64_t kHeldoutPerMille = 50;

// Joins consecutive `lines` into paragraphs of `per` lines.
std::vector<std::string> group_lines(const std::vector<std::string>& lines, size_t per) {
  std::vector<std::string> paragraphs;
  for (size_t i = 0; i < lines.size(); i += per) {
    std::string paragraph;
    for (size_t k = i; k < std::min(lines.size(), i + per); ++k) paragraph += (k > i ? "\n" : "") + lines[k];
    paragraphs.push_back(paragraph);
  }
  return paragraphs;
}

std::vector<std::string> bible_passages() {
  std::vector<std::string> passages;
  std::string passage, chapter;
  for (const auto& verse : sword_read("engKJV2006eb")) {
    const std::string verse_chapter = verse.ref.substr(0, verse.ref.rfind(':'));
    if (verse_chapter != chapter || passage.size() >= kPassageBytes) {
      if (!passage.empty()) passages.push_back(passage);
      passage.clear();
      chapter = verse_chapter;
    }
    passage += (passage.empty() ? "" : " ") + verse.text;
  }
  if (!passage.empty()) passages.push_back(passage);
  return passages;
}

std::vector<std::string> wordnet_paragraphs() {
  std::vector<std::string> lines;
  for (const auto& synset : wordnet_read(kWordnetDir)) {
    std::string lemmas;
    for (const auto& lemma : synset.lemmas) lemmas += (lemmas.empty() ? "" : ", ") + lemma;
    lines.push_back(lemmas + " (" + wordnet_pos_name(synset.pos) + "): " + synset.definition + ".");
  }
  return group_lines(lines, kLinesPerParagraph);
}

std::vector<std::string> acronym_paragraphs() {
  std::vector<std::string> lines;
  for (const auto& entry : dictd_read(kVera)) {
    const size_t newline = entry.text.find('\n');
    const std::string acronym = collapse_spaces(entry.text.substr(0, newline));
    const std::string expansion = newline == std::string::npos ? "" : collapse_spaces(entry.text.substr(newline));
    if (!acronym.empty() && !expansion.empty()) lines.push_back(acronym + ": " + expansion);
  }
  return group_lines(lines, kLinesPerParagraph);
}

std::vector<std::string> fortune_paragraphs(std::vector<std::string>& sources) {
  std::vector<std::string> paragraphs;
  for (const char* name : kFortuneFiles) {
    const std::string path = std::string(kFortuneDir) + "/" + name;
    sources.push_back(path);
    for (auto& record : fortune_read(path)) paragraphs.push_back(std::move(record));
  }
  return paragraphs;
}

// The paragraphs of a shuffled pool that fit in `budget` bytes (each counts its separator) and are not
// in `seen` yet (the same fortune sits in two files), so train and held-out text share no paragraph.
std::vector<std::string> take_bytes(std::vector<std::string> pool, uint64_t seed, int64_t budget,
                                    std::set<std::string>& seen, int64_t& used) {
  seeded_shuffle(pool, seed);
  std::vector<std::string> taken;
  used = 0;
  for (auto& paragraph : pool) {
    const int64_t size = static_cast<int64_t>(paragraph.size()) + 2;
    if (used + size > budget || !seen.insert(paragraph).second) continue;
    used += size;
    taken.push_back(std::move(paragraph));
  }
  return taken;
}

std::string join_paragraphs(const std::vector<std::string>& paragraphs, size_t from, size_t to) {
  std::string text;
  for (size_t i = from; i < to; ++i) text += (i > from ? "\n\n" : "") + paragraphs[i];
  return text.empty() ? text : text + "\n";
}

}  // namespace

Build build_general_text(const PrepareOptions& options) {
  if (options.max_bytes < 0) fail("data", "--max-bytes ", options.max_bytes, ": must be 0 (the default) or more");
  const int64_t max_bytes = options.max_bytes > 0 ? options.max_bytes : kDefaultBytes;
  Build build;
  build.sources = {"mod2imp engKJV2006eb", std::string(kWordnetDir) + "/data.{noun,verb,adj,adv}",
                   std::string(kVera) + ".{index,dict.dz}"};
  std::vector<std::pair<std::string, std::vector<std::string>>> pools = {
      {"kjv", bible_passages()},
      {"wordnet", wordnet_paragraphs()},
      {"fortunes", fortune_paragraphs(build.sources)},
      {"acronyms", acronym_paragraphs()},
  };
  std::vector<std::string> corpus;
  std::set<std::string> seen;
  for (auto& [name, pool] : pools) {
    int64_t used = 0;
    const int64_t budget = max_bytes / static_cast<int64_t>(pools.size());
    auto taken = take_bytes(std::move(pool), derive_seed(options.seed, name), budget, seen, used);
    build.facts["bytes"][name] = used;
    build.facts["paragraphs"][name] = taken.size();
    for (auto& paragraph : taken) corpus.push_back(std::move(paragraph));
  }
  if (corpus.size() < 2) fail("data", "general-text: --max-bytes ", max_bytes, " leaves fewer than 2 paragraphs");
  seeded_shuffle(corpus, derive_seed(options.seed, "general-text"));
  const size_t heldout = std::max<size_t>(1, corpus.size() * kHeldoutPerMille / 1000);
  build.files["heldout.txt"] = join_paragraphs(corpus, 0, heldout);
  build.files["train.txt"] = join_paragraphs(corpus, heldout, corpus.size());
  build.settings = {{"max_bytes", max_bytes}, {"heldout_fraction", kHeldoutPerMille / 1000.0}};
  config::TaskConfig task;
  task.name = "general-text";
  task.kind = config::TaskKind::Text;
  task.train = "train.txt";
  task.valid = "heldout.txt";
  task.metric = "perplexity";
  build.tasks.push_back(task);
  build.counts.push_back({task.name,
                          task.kind,
                          task.metric,
                          static_cast<int64_t>(corpus.size() - heldout),
                          static_cast<int64_t>(heldout),
                          0,
                          {}});
  build.tasks_note =
      "# heldout.txt also measures general-text perplexity drift: [eval] general_text = \"heldout.txt\"\n";
  return build;
}

}  // namespace retain::data
