// adapter-config-fuzz.cpp - libFuzzer target for PEFT's adapter_config.json: any bytes must parse or
// throw retain::Error, and a config that parses must answer for a few module names (targeted? rank?
// alpha?) the same way. Any other exception, a crash, or an ASan/UBSan report is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "io/peft-config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto config = retain::io::peft_adapter_config_parse(std::string(reinterpret_cast<const char*>(data), size),
                                                              "fuzz/adapter_config.json");
    for (const char* module : {"model.layers.0.self_attn.q_proj", "transformer.h.11.attn.c_attn", "lm_head"}) {
      config.targets(module);
      if (config.rank_of(module) < 1) __builtin_trap();
      config.alpha_of(module);
    }
  } catch (const retain::Error&) {
  }
  return 0;
}
