// source-fortune.cpp - splits a fortune file at its "%" lines.
#include "data/source-fortune.h"

#include <sstream>

#include "io/file-read.h"

namespace retain::data {

std::vector<std::string> fortune_read(const std::string& path) {
  std::istringstream lines(io::file_read(path, "data"));
  std::vector<std::string> records;
  std::string record, line;
  auto flush = [&] {
    if (!record.empty()) records.push_back(record);
    record.clear();
  };
  while (std::getline(lines, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    if (line == "%") {
      flush();
    } else if (!line.empty()) {
      if (!record.empty()) record += '\n';
      record += line;
    }
  }
  flush();
  return records;
}

}  // namespace retain::data
