// error.h - the one error style: every failure a user can cause is a retain::Error whose
// message starts with the component and names the file and the thing, e.g.
//   [safetensors] model.safetensors: tensor 'lm_head.weight' ends at byte 9123 of the data, past its 8000 bytes
// Invariants inside the library use TORCH_CHECK; only main() catches.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace retain {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws Error("[component] " + parts...).
template <typename... Parts>
[[noreturn]] void fail(std::string_view component, const Parts&... parts) {
  std::ostringstream os;
  os << '[' << component << "] ";
  (os << ... << parts);
  throw Error(os.str());
}

}  // namespace retain
