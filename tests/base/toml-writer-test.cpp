// The TOML writer: every string and key it writes reads back through toml++ as the same bytes.
#include "config/toml-writer.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <string>
#include <vector>

namespace retain::config {
namespace {

// Strings a writer gets wrong: quotes, backslashes, every control character, DEL, UTF-8.
std::vector<std::string> tricky_strings() {
  std::vector<std::string> strings = {
      "",
      "plain",
      "say \"hi\"",
      "C:\\path\\to\\file",
      "\\\"",
      "line one\nline two\r\n",
      "tab\there",
      "del\x7f"
      "after",
      "caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac",
      "\"\"\"",
      "'single' and # hash = [x]",
  };
  std::string controls;
  for (int c = 1; c < 0x20; ++c) controls += static_cast<char>(c);
  strings.push_back(controls);
  return strings;
}

std::string parse_string(const std::string& document, const std::string& key) {
  const toml::table table = toml::parse(document);
  const auto value = table[key].value<std::string>();
  EXPECT_TRUE(value.has_value()) << document;
  return value.value_or("<missing>");
}

TEST(TomlWriter, StringsReadBackUnchanged) {
  for (const auto& text : tricky_strings()) {
    const std::string document = "v = " + toml_string(text) + "\n";
    EXPECT_EQ(parse_string(document, "v"), text) << document;
  }
}

TEST(TomlWriter, ControlCharactersAndDelAreEscaped) {
  EXPECT_EQ(toml_string("a\x01"
                        "b\x7f"),
            "\"a\\u0001b\\u007F\"");
  EXPECT_EQ(toml_string("q\"b\\n\nt\tr\r"), "\"q\\\"b\\\\n\\nt\\tr\\r\"");
}

TEST(TomlWriter, KeysAreBareWhenTheyCanBe) {
  EXPECT_EQ(toml_key("lr"), "lr");
  EXPECT_EQ(toml_key("max_new-tokens2"), "max_new-tokens2");
  EXPECT_EQ(toml_key(""), "\"\"");
  EXPECT_EQ(toml_key("a.b"), "\"a.b\"");
  EXPECT_EQ(toml_key("with space"), "\"with space\"");
}

TEST(TomlWriter, KeysReadBackUnchanged) {
  std::vector<std::string> keys = tricky_strings();
  keys.push_back("lr");
  keys.push_back("a.b");
  for (const auto& key : keys) {
    const std::string document = toml_key(key) + " = 1\n";
    const toml::table table = toml::parse(document);
    ASSERT_EQ(table.size(), 1u) << document;
    EXPECT_EQ(std::string(table.begin()->first.str()), key) << document;
  }
}

}  // namespace
}  // namespace retain::config
