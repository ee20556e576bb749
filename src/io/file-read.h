// file-read.h - the whole of a file in memory, the one way every layer reads a small file (configs,
// JSON, text data) before parsing it.
#pragma once

#include <string>

namespace retain::io {

// The bytes of `path`; "[COMPONENT] PATH: cannot open the file (REASON)" when it cannot be opened,
// "[COMPONENT] PATH: read error" when reading it fails part way.
std::string file_read(const std::string& path, const char* component);

}  // namespace retain::io
