// normalizers.cpp - the normalizer types of Hugging Face tokenizers that BPE and Unigram files use.
#include "tok/normalizers.h"

#include <optional>
#include <vector>

#include "tok/precompiled-charsmap.h"
#include "tok/regex.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(std::string& text) const override { text = unicode_normalize(text, form_); }

 private:
  NormalForm form_;
};

// Llama-2 / Mistral files prepend "▁" to every non-empty stretch of text.
class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class Replace : public Normalizer {
 public:
  Replace(const std::string& pattern, std::string content, const std::string& context)
      : regex_(pattern, Regex::Dialect::Oniguruma, context), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = regex_.replace_all(text, content_); }

 private:
  Regex regex_;
  std::string content_;
};

class Strip : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        size_t length;
        if (!is_whitespace(utf8_decode(text, begin, &length))) break;
        begin += length;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        size_t length;
        if (!is_whitespace(utf8_decode(text, start, &length))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

// SentencePiece's own rules (T5, mT5, ALBERT): precompiled-charsmap.h.
class Precompiled : public Normalizer {
 public:
  Precompiled(std::string_view blob, std::string context) : charsmap_(blob, std::move(context)) {}
  void normalize(std::string& text) const override { text = charsmap_.normalize(text); }

 private:
  PrecompiledCharsmap charsmap_;
};

class Sequence : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> normalizer_from_json(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFC);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFD);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKC);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::NFKD);
  if (type == "Prepend") return std::make_unique<Prepend>(node["prepend"].str());
  if (type == "Replace") {
    return std::make_unique<Replace>(pattern_from_json(node["pattern"]), node["content"].str(),
                                     node.file() + ": " + node.where() + ".pattern");
  }
  if (type == "Strip")
    return std::make_unique<Strip>(node.bool_or("strip_left", false), node.bool_or("strip_right", false));
  if (type == "Precompiled") {
    JsonNode charsmap = node["precompiled_charsmap"];
    std::optional<std::string> blob = base64_decode(charsmap.str());
    if (!blob) charsmap.fail("expected base64 text");
    return std::make_unique<Precompiled>(*blob, node.file() + ": " + charsmap.where());
  }
  if (type == "Sequence") {
    JsonNode list = node["normalizers"];
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(normalizer_from_json(list[i]));
    return std::make_unique<Sequence>(std::move(steps));
  }
  node.fail("normalizer type '", type, "' is not supported (supported: NFC, NFD, NFKC, NFKD, Precompiled, ",
            "Prepend, Replace, Strip, Sequence)");
}

}  // namespace retain::tok
