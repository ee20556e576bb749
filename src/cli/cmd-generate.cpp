// retain generate MODEL_DIR (--prompt TEXT | --prompt-ids 1,2,3): greedy generation with the KV
// cache, optionally with a PEFT adapter on top.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "device.h"
#include "error.h"
#include "io/hf-config.h"
#include "model/adapter.h"
#include "model/checkpoint.h"
#include "model/generate.h"
#include "tok/tokenizer.h"

namespace retain::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string dir, prompt, prompt_ids, tokenizer, adapter, dtype = "float32", device = "cpu";
  int64_t max_new_tokens = 32;
  bool no_cache = false;
  bool from_ids = false;  // --prompt-ids was given (even empty), rather than --prompt
};

std::vector<int64_t> parse_ids(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      ids.push_back(std::stoll(item, &used));
      if (item.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail("generate", "--prompt-ids: '", item, "' is not an integer (expected e.g. 1,2,3)");
    }
  }
  if (ids.empty()) fail("generate", "--prompt-ids: no ids given");
  return ids;
}

// eos / pad from generation_config.json where it sets them, else config.json, as transformers'
// generate reads them; a row that has finished is filled with pad (eos when there is no pad).
void special_ids(const std::string& dir, const io::HfConfig& config, model::GenerateOptions& options) {
  options.eos_token_ids = config.get_int_list("eos_token_id");
  int64_t pad = config.get_int("pad_token_id", -1);
  const auto path = fs::path(dir) / "generation_config.json";
  if (fs::exists(path)) {
    auto generation = io::HfConfig::read(path.string());
    if (generation.has("eos_token_id")) options.eos_token_ids = generation.get_int_list("eos_token_id");
    pad = generation.get_int("pad_token_id", pad);
  }
  options.pad_token_id = pad >= 0 ? pad : options.eos_token_ids.empty() ? 0 : options.eos_token_ids[0];
}

int run_generate(const Options& o) {
  model::LoadOptions load;
  if (o.dtype == "float32" || o.dtype == "fp32")
    load.dtype = torch::kFloat;
  else if (o.dtype == "bfloat16" || o.dtype == "bf16")
    load.dtype = torch::kBFloat16;
  else
    fail("generate", "--dtype '", o.dtype, "' is not supported (float32, bfloat16)");
  load.device = device::parse(o.device);
  auto model = model::model_load(o.dir, load);
  if (!o.adapter.empty()) model::adapter_load(*model, o.adapter);

  std::unique_ptr<tok::Tokenizer> tokenizer;
  const auto tokenizer_path = o.tokenizer.empty() ? o.dir : o.tokenizer;
  if (!o.from_ids || fs::exists(fs::path(tokenizer_path) / "tokenizer.json") || !o.tokenizer.empty()) {
    tokenizer = tok::Tokenizer::load(tokenizer_path);
  }
  std::vector<int64_t> ids;
  if (o.from_ids) {
    ids = parse_ids(o.prompt_ids);
  } else {
    for (int32_t id : tokenizer->encode(o.prompt, true)) ids.push_back(id);
  }
  if (ids.empty()) fail("generate", "the prompt encodes to no tokens");
  const int64_t vocab = model->config().get_int("vocab_size", 0);
  for (int64_t id : ids) {
    if (vocab > 0 && (id < 0 || id >= vocab)) {
      fail("generate", "prompt token id ", id, " is outside the vocabulary of ", model->config().path(), " (0..",
           vocab - 1, ")");
    }
  }
  const int64_t positions = model->max_positions();
  if (positions > 0 && o.max_new_tokens > positions - static_cast<int64_t>(ids.size())) {
    fail("generate", "--max-new-tokens ", o.max_new_tokens, ": the prompt's ", ids.size(),
         " tokens and the new ones would pass the ", positions, " positions of ", model->config().path(), " (at most ",
         std::max<int64_t>(0, positions - static_cast<int64_t>(ids.size())), " new tokens)");
  }

  model::GenerateOptions options;
  options.max_new_tokens = o.max_new_tokens;
  options.use_cache = !o.no_cache;
  special_ids(o.dir, model->config(), options);
  auto input = torch::tensor(ids, torch::kLong).unsqueeze(0).to(load.device);
  auto output = model::generate_greedy(*model, input, {}, options).to(torch::kCPU);

  const int64_t skip = model->kind() == model::ModelKind::CausalLM ? input.size(1) : 1;
  std::vector<int32_t> generated;
  for (int64_t i = skip; i < output.size(1); ++i)
    generated.push_back(static_cast<int32_t>(output[0][i].item<int64_t>()));
  std::string json = "[";
  for (size_t i = 0; i < generated.size(); ++i) json += (i ? ", " : "") + std::to_string(generated[i]);
  std::printf("ids: %s]\n", json.c_str());
  if (tokenizer) std::printf("text: %s\n", tokenizer->decode(generated, true).c_str());
  return 0;
}

}  // namespace

Command add_generate(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("generate", "greedy generation from a model folder");
  sub->add_option("MODEL_DIR", o->dir, "a Hugging Face model folder")->required();
  auto* text = sub->add_option("--prompt", o->prompt, "prompt text (needs a tokenizer)");
  auto* ids = sub->add_option("--prompt-ids", o->prompt_ids, "prompt as comma-separated token ids");
  text->excludes(ids);
  sub->add_option("--tokenizer", o->tokenizer, "tokenizer.json or folder (default: MODEL_DIR)");
  sub->add_option("--max-new-tokens", o->max_new_tokens, "tokens to generate")
      ->capture_default_str()
      ->check(whole_number_at_least(1));
  sub->add_option("--adapter", o->adapter, "a PEFT LoRA adapter folder to apply");
  sub->add_option("--dtype", o->dtype, "float32 or bfloat16")->capture_default_str();
  sub->add_option("--device", o->device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  sub->add_flag("--no-cache", o->no_cache, "recompute the whole sequence each step (reference path)");
  return {sub, [o, text, ids] {
            if (text->count() == 0 && ids->count() == 0) fail("generate", "give --prompt TEXT or --prompt-ids 1,2,3");
            o->from_ids = ids->count() > 0;
            return run_generate(*o);
          }};
}

}  // namespace retain::cli
