// source-sword.cpp - runs mod2imp, splits its output into verses and turns OSIS markup into text.
#include "data/source-sword.h"

#include <sys/wait.h>

#include <cstdio>

#include "data/text-file.h"
#include "error.h"

namespace retain::data {

namespace {

std::string run_mod2imp(const std::string& module) {
  const std::string command = "mod2imp '" + module + "' 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) fail("data", "mod2imp: cannot start `", command, "`");
  std::string out;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0 || out.empty()) {
    fail("data", "mod2imp ", module, ": exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1, " with ",
         out.size(), " bytes of output (is the SWORD module installed? libsword-utils provides mod2imp)");
  }
  return out;
}

}  // namespace

std::string osis_to_text(const std::string& osis) {
  std::string plain;
  int note_depth = 0;
  size_t at = 0;
  while (at < osis.size()) {
    if (osis[at] == '<') {
      size_t end = osis.find('>', at);
      if (end == std::string::npos) end = osis.size() - 1;
      const std::string tag = osis.substr(at, end - at + 1);
      const bool self_closing = tag.size() >= 2 && tag[tag.size() - 2] == '/';
      if (tag.rfind("<note", 0) == 0 && (tag.size() == 5 || tag[5] == ' ' || tag[5] == '>') && !self_closing) {
        if (note_depth++ == 0) plain += ' ';
      } else if (tag == "</note>" && note_depth > 0) {
        --note_depth;
      }
      at = end + 1;
      continue;
    }
    const size_t next = osis.find('<', at);
    const std::string piece = osis.substr(at, next == std::string::npos ? std::string::npos : next - at);
    if (note_depth == 0) plain += piece;
    at = next == std::string::npos ? osis.size() : next;
  }
  static const std::pair<const char*, const char*> kReplacements[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&apos;", "'"}, {"&amp;", "&"}, {"\xC2\xB6", " "}};
  for (const auto& [entity, replacement] : kReplacements) {
    for (size_t p = plain.find(entity); p != std::string::npos; p = plain.find(entity, p + 1)) {
      plain.replace(p, std::char_traits<char>::length(entity), replacement);
    }
  }
  return collapse_spaces(plain);
}

std::vector<Verse> sword_read(const std::string& module) {
  const std::string dump = run_mod2imp(module);
  std::vector<Verse> verses;
  std::string ref, body;
  auto flush = [&] {
    // "[ Module Heading ]" and "Book C:0" (introductions, chapter starts) are not verses.
    const bool heading = ref.empty() || ref[0] == '[' || ref.size() < 2 || ref.compare(ref.size() - 2, 2, ":0") == 0;
    if (!heading) {
      std::string text = osis_to_text(body);
      if (!text.empty()) verses.push_back({ref, std::move(text)});
    }
    body.clear();
  };
  size_t start = 0;
  while (start < dump.size()) {
    size_t end = dump.find('\n', start);
    if (end == std::string::npos) end = dump.size();
    const std::string line = dump.substr(start, end - start);
    start = end + 1;
    if (line.rfind("$$$", 0) == 0) {
      flush();
      ref = line.substr(3);
    } else {
      body += line;
      body += '\n';
    }
  }
  flush();
  return verses;
}

}  // namespace retain::data
