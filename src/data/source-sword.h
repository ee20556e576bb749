// source-sword.h - Bible verses from SWORD modules (sword-text-kjv, sword-text-web), dumped with
// `mod2imp MODULE` (libsword-utils): "$$$Book C:V" lines, each followed by the verse as OSIS XML.
#pragma once

#include <string>
#include <vector>

namespace retain::data {

struct Verse {
  std::string ref;   // "Genesis 1:1"
  std::string text;  // plain text: tags stripped, notes replaced by a space, spaces collapsed
};

// The non-empty verses of `module` in canonical order (book introductions and chapter headings,
// verse 0, are left out).
std::vector<Verse> sword_read(const std::string& module);

// OSIS XML to plain text: each <note>...</note> becomes a space (a note often sits between two words),
// other tags are dropped, the five XML entities decoded, the pilcrow dropped, whitespace collapsed.
std::string osis_to_text(const std::string& osis);

}  // namespace retain::data
