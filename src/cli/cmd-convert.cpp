// retain convert IN OUT: GGUF <-> Hugging Face folder. OUT ending in .gguf writes GGUF (from a
// folder, or from another GGUF to change its type); any other OUT is a Hugging Face folder.
#include <filesystem>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "error.h"
#include "io/gguf-quants.h"
#include "io/gguf.h"
#include "model/checkpoint.h"
#include "model/gguf-model.h"

namespace retain::cli {

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string in, out, type = "f32", dtype = "float32", tokenizer;
};

int run_convert(const Options& o) {
  std::error_code error;
  if (fs::exists(o.out, error) && fs::exists(o.in, error) && fs::equivalent(o.in, o.out, error)) {
    fail("convert", o.out, ": the output is the input; choose another path");
  }
  const bool to_gguf = fs::path(o.out).extension() == ".gguf";
  model::LoadOptions load;
  if (o.dtype == "bfloat16" || o.dtype == "bf16")
    load.dtype = torch::kBFloat16;
  else if (o.dtype != "float32" && o.dtype != "fp32")
    fail("convert", "--dtype '", o.dtype, "' is not supported (float32, bfloat16)");
  if (to_gguf && load.dtype != torch::kFloat)
    fail("convert", "--dtype applies to Hugging Face output; use --type for GGUF");
  if (!to_gguf && o.type != "f32")
    fail("convert", "--type applies to GGUF output (", o.out, " does not end in .gguf); use --dtype");

  model::GgufSaveOptions save;
  if (to_gguf) {
    const auto type = io::ggml_type_from_name(o.type);
    if (!type || !io::ggml_can_quantize(*type)) {
      fail("convert", "--type '", o.type, "' cannot be written (supported: ", io::ggml_quantizable_names(), ")");
    }
    save.type = *type;
    save.tokenizer_source = o.tokenizer;
  }
  auto model = model::model_load(o.in, load);
  if (to_gguf) {
    model::gguf_model_save(*model, o.out, save);
  } else {
    if (fs::exists(o.out, error) && !fs::is_directory(o.out, error))
      fail("convert", o.out, ": exists and is not a folder");
    model::model_save(*model, o.out);
  }
  std::printf("wrote %s (%s)\n", o.out.c_str(), to_gguf ? io::ggml_type_info(save.type).name : o.dtype.c_str());
  return 0;
}

}  // namespace

Command add_convert(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("convert", "GGUF <-> Hugging Face folder (OUT ending in .gguf writes GGUF)");
  sub->add_option("IN", o->in, "a Hugging Face model folder, a .gguf file, or a folder holding one")->required();
  sub->add_option("OUT", o->out, "OUT.gguf, or a folder for config.json + safetensors + tokenizer.json")->required();
  sub->add_option("--type", o->type,
                  "GGUF matrix type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 (1-D tensors stay f32)");
  sub->add_option("--dtype", o->dtype, "Hugging Face weights: float32 or bfloat16");
  sub->add_option("--tokenizer", o->tokenizer,
                  "tokenizer.json, a folder or a .gguf to take the tokenizer from (default: IN)");
  return {sub, [o] { return run_convert(*o); }};
}

}  // namespace retain::cli
