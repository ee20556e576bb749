// text-file.h - whole-file reads (plain or gzip), whitespace and UTF-8 helpers, and plain-text
// documents: a `text` task's file is UTF-8 whose paragraphs (separated by blank lines) are the documents.
#pragma once

#include <string>
#include <vector>

namespace retain::data {

// The decompressed bytes of a gzip file (zlib reads a plain file as it is); a cut-off or corrupt
// stream is an error naming the file.
std::string file_read_gunzip(const std::string& path);

// The paragraphs of `text`: runs of non-blank lines joined by "\n" (a blank line holds only spaces,
// tabs or a CR). `path` names the file in the error for invalid UTF-8 ("FILE:LINE: ...").
std::vector<std::string> text_paragraphs(const std::string& text, const std::string& path);

// `text` with each run of spaces, tabs and line breaks made one space, none at either end.
std::string collapse_spaces(const std::string& text);

// `text` with A-Z made a-z (other bytes, UTF-8 included, as they are).
std::string ascii_lower(std::string text);

// Where `text` is not valid UTF-8 (the byte offset), or npos.
size_t utf8_invalid_at(const std::string& text);

}  // namespace retain::data
