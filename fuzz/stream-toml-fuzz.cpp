// stream-toml-fuzz.cpp - libFuzzer target for stream files: any text must parse and check or throw
// retain::Error. Any other exception, a crash, or an ASan/UBSan report is a finding. A stream that
// parses must write itself out as TOML that parses back to the same TOML.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/stream-config.h"
#include "error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string toml;
  try {
    toml = retain::config::stream_config_to_toml(retain::config::stream_config_parse(text, "fuzz.toml", "/fuzz"));
  } catch (const retain::Error&) {
    return 0;
  }
  const auto again =
      retain::config::stream_config_to_toml(retain::config::stream_config_parse(toml, "fuzz.toml", "/fuzz"));
  if (again != toml) __builtin_trap();
  return 0;
}
