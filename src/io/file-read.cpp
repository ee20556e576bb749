// file-read.cpp - see file-read.h.
#include "io/file-read.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "error.h"

namespace retain::io {

std::string file_read(const std::string& path, const char* component) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(component, path, ": cannot open the file (", std::strerror(errno), ")");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) fail(component, path, ": read error");
  return bytes.str();
}

}  // namespace retain::io
