// jsonl-fuzz.cpp - libFuzzer target for JSON Lines task files: any bytes must read or throw
// retain::Error. Any other exception, a crash, or an ASan/UBSan report is a finding.
#include <cstddef>
#include <cstdint>

#include "data/jsonl.h"
#include "error.h"
#include "fuzz-file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    retain::data::jsonl_read(retain::fuzz::fuzz_file(data, size, "task.jsonl"), {"prompt", "answer"});
  } catch (const retain::Error&) {
  }
  return 0;
}
