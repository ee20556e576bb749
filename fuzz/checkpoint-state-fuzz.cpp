// checkpoint-state-fuzz.cpp - libFuzzer target for a run checkpoint's state.json: any bytes must
// parse or throw retain::Error. Any other exception, a crash, or an ASan/UBSan report is a finding; a
// state that parses must write itself out as JSON that parses back to the same JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "train/checkpoint-state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string json;
  try {
    json = retain::train::checkpoint_state_to_json(retain::train::checkpoint_state_parse(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz/state.json"));
  } catch (const retain::Error&) {
    return 0;
  }
  const auto again =
      retain::train::checkpoint_state_to_json(retain::train::checkpoint_state_parse(json, "fuzz/again.json"));
  if (again != json) __builtin_trap();
  return 0;
}
