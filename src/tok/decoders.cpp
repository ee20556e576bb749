// decoders.cpp - the decoder types, following tokenizers' decoders/*.rs.
#include "tok/decoders.h"

#include <cstdint>
#include "tok/byte-level.h"
#include "tok/regex.h"
#include "tok/unicode.h"

namespace retain::tok {

namespace {

// Byte-level spellings back to bytes, all tokens at once, since one character may be split
// across tokens; bytes that still do not form UTF-8 become U+FFFD.
class ByteLevel : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& token : tokens) {
      if (!byte_level_decode(token, bytes)) bytes += token;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class Replace : public Decoder {
 public:
  Replace(const std::string& pattern, std::string content, const std::string& context)
      : regex_(pattern, Regex::Dialect::Oniguruma, context), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) token = regex_.replace_all(token, content_);
  }

 private:
  Regex regex_;
  std::string content_;
};

// Runs of <0xNN> tokens become the UTF-8 text they spell, or one U+FFFD per byte if they spell none.
class ByteFallback : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      if (utf8_invalid_at(bytes) == std::string::npos) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      bytes.clear();
    };
    for (std::string& token : tokens) {
      int byte = byte_token(token);
      if (byte >= 0) {
        bytes += static_cast<char>(byte);
      } else {
        flush();
        out.push_back(std::move(token));
      }
    }
    flush();
    tokens = std::move(out);
  }

 private:
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  // The byte of a "<0xNN>" token, or -1.
  static int byte_token(const std::string& token) {
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return -1;
    int high = hex(token[3]), low = hex(token[4]);
    return high < 0 || low < 0 ? -1 : high * 16 + low;
  }
};

class Fuse : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const std::string& token : tokens) joined += token;
    tokens.assign(1, joined);
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from each token.
class Strip : public Decoder {
 public:
  Strip(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& token : tokens) {
      size_t begin = 0, end = token.size();
      for (size_t i = 0; i < start_ && token.compare(begin, content_.size(), content_) == 0; ++i) {
        begin += content_.size();
      }
      for (size_t i = 0; i < stop_ && end >= begin + content_.size() &&
                         token.compare(end - content_.size(), content_.size(), content_) == 0;
           ++i) {
        end -= content_.size();
      }
      token = token.substr(begin, end - begin);
    }
  }

 private:
  std::string content_;
  size_t start_, stop_;
};

// "▁" back to a space, except in the first token where the pre-tokenizer put it (tokenizers
// drops every "▁" of that token, not just the leading one).
class Metaspace : public Decoder {
 public:
  Metaspace(std::string replacement, bool drop_first) : replacement_(std::move(replacement)), drop_first_(drop_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      const std::string& token = tokens[i];
      for (size_t at = 0; at < token.size();) {
        if (token.compare(at, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && drop_first_)) out += ' ';
          at += replacement_.size();
        } else {
          out += token[at++];
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool drop_first_;
};

class Sequence : public Decoder {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& step : steps_) step->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// One character, given as a JSON string.
std::string one_char(const JsonNode& node) {
  std::string s = node.str();
  size_t length;
  if (s.empty() || (utf8_decode(s, 0, &length), length != s.size()))
    node.fail("expected one character, found \"", s, "\"");
  return s;
}

size_t count(const JsonNode& node) {
  int64_t n = node.integer();
  if (n < 0) node.fail("expected a count, found ", n);
  return static_cast<size_t>(n);
}

}  // namespace

std::unique_ptr<Decoder> byte_level_decoder() { return std::make_unique<ByteLevel>(); }

std::unique_ptr<Decoder> decoder_from_json(const JsonNode& node) {
  const std::string type = node.type();
  if (type == "ByteLevel") return byte_level_decoder();
  if (type == "Replace") {
    return std::make_unique<Replace>(pattern_from_json(node["pattern"]), node["content"].str(),
                                     node.file() + ": " + node.where() + ".pattern");
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip")
    return std::make_unique<Strip>(one_char(node["content"]), count(node["start"]), count(node["stop"]));
  if (type == "Metaspace") {
    bool drop_first;
    if (node.has("prepend_scheme")) {
      drop_first = node["prepend_scheme"].str() != "never";
    } else {
      drop_first = node.bool_or("add_prefix_space", true);
    }
    return std::make_unique<Metaspace>(one_char(node["replacement"]), drop_first);
  }
  if (type == "Sequence") {
    JsonNode list = node["decoders"];
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list.size(); ++i) steps.push_back(decoder_from_json(list[i]));
    return std::make_unique<Sequence>(std::move(steps));
  }
  node.fail("decoder type '", type, "' is not supported (supported: ByteLevel, Replace, ByteFallback, Fuse, ",
            "Strip, Metaspace, Sequence)");
}

}  // namespace retain::tok
