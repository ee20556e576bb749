// hf-config-fuzz.cpp - libFuzzer target for config.json: any bytes must parse or throw
// retain::Error, and so must every typed read the model builders make of it (sizes, counts,
// epsilons, token-id lists, rope scaling). Any other exception, a crash, or an ASan/UBSan report is
// a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "error.h"
#include "io/hf-config.h"

namespace {

template <typename Read>
void tolerate(Read read) {
  try {
    read();
  } catch (const retain::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto config = retain::io::HfConfig::parse(text, "fuzz/config.json");
    tolerate([&] { config.model_type(); });
    tolerate([&] { config.architecture_check({"LlamaForCausalLM", "GPT2LMHeadModel"}); });
    tolerate([&] { config.rope(); });
    for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                            "num_key_value_heads", "vocab_size", "max_position_embeddings", "head_dim", "n_embd"}) {
      tolerate([&] { config.get_positive_int(key); });
      tolerate([&] { config.get_positive_int(key, 1); });
      tolerate([&] { config.get_int(key, 0); });
    }
    for (const char* key : {"rms_norm_eps", "layer_norm_epsilon", "rope_theta", "initializer_range"}) {
      tolerate([&] { config.get_positive_double(key, 1.0); });
      tolerate([&] { config.get_double(key); });
    }
    for (const char* key : {"tie_word_embeddings", "attention_bias", "scale_attn_weights"}) {
      tolerate([&] { config.get_bool(key, false); });
    }
    for (const char* key : {"hidden_act", "torch_dtype", "model_type"}) {
      tolerate([&] { config.get_string(key, ""); });
    }
    for (const char* key : {"eos_token_id", "bos_token_id", "pad_token_id"}) {
      tolerate([&] { config.get_int_list(key); });
    }
  } catch (const retain::Error&) {
  }
  return 0;
}
