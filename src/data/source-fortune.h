// source-fortune.h - fortune-mod cookie files (Debian fortunes, fortunes-min): records separated
// by lines holding only "%".
#pragma once

#include <string>
#include <vector>

namespace retain::data {

// The records of one fortune file, trailing spaces and blank lines inside a record removed, empty
// records dropped.
std::vector<std::string> fortune_read(const std::string& path);

}  // namespace retain::data
