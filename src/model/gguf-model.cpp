// gguf-model.cpp - the GGUF <-> Hugging Face mapping of the Llama family: metadata keys to
// config.json fields, tensor names, the Q/K row permutation, tied output.
#include "model/gguf-model.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>

#include "error.h"
#include "io/gguf-quants.h"
#include "io/gguf-writer.h"
#include "model/registry.h"
#include "tok/gguf-vocab.h"

namespace retain::model {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Arch {
  const char* gguf;        // general.architecture
  const char* model_type;  // config.json
  const char* hf_class;
  bool permute_qk;  // llama.cpp's converter interleaves the RoPE halves of Q and K rows
};

constexpr Arch kArchs[] = {
    {"llama", "llama", "LlamaForCausalLM", true},
    {"qwen2", "qwen2", "Qwen2ForCausalLM", false},
    {"qwen3", "qwen3", "Qwen3ForCausalLM", false},
};

const Arch* arch_by_gguf(const std::string& name) {
  for (const auto& a : kArchs) {
    if (name == a.gguf) return &a;
  }
  return nullptr;
}

const Arch* arch_by_model_type(const std::string& type) {
  if (type == "mistral") return &kArchs[0];  // llama.cpp writes Mistral as llama
  for (const auto& a : kArchs) {
    if (type == a.model_type) return &a;
  }
  return nullptr;
}

std::string supported_archs() {
  std::string out;
  for (const auto& a : kArchs) out += (out.empty() ? "" : ", ") + std::string(a.gguf);
  return out;
}

// Per-layer tensor names: GGUF suffix -> Hugging Face suffix.
const std::vector<std::pair<std::string, std::string>>& layer_names() {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"attn_q_norm", "self_attn.q_norm"},
      {"attn_k_norm", "self_attn.k_norm"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
  };
  return names;
}

const std::vector<std::pair<std::string, std::string>>& global_names() {
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"token_embd", "model.embed_tokens"}, {"output_norm", "model.norm"}, {"output", "lm_head"}};
  return names;
}

// "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight"; "" when unknown.
std::string hf_name(const std::string& gguf_name) {
  const auto dot = gguf_name.rfind('.');
  if (dot == std::string::npos) return "";
  const std::string base = gguf_name.substr(0, dot), kind = gguf_name.substr(dot);  // ".weight" / ".bias"
  for (const auto& [g, h] : global_names()) {
    if (base == g) return h + kind;
  }
  static const std::regex block(R"(blk\.(\d+)\.([a-z_]+))");
  std::smatch m;
  if (!std::regex_match(base, m, block)) return "";
  for (const auto& [g, h] : layer_names()) {
    if (m[2] == g) return "model.layers." + m[1].str() + "." + h + kind;
  }
  return "";
}

// The inverse, for the writer.
std::string gguf_name(const std::string& hf) {
  const auto dot = hf.rfind('.');
  const std::string base = hf.substr(0, dot), kind = hf.substr(dot);
  for (const auto& [g, h] : global_names()) {
    if (base == h) return g + kind;
  }
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (std::regex_match(base, m, layer)) {
    for (const auto& [g, h] : layer_names()) {
      if (m[2] == h) return "blk." + m[1].str() + "." + g + kind;
    }
  }
  return "";
}

// llama.cpp's converter: w.reshape(n_head, 2, rows / n_head / 2, ...).swapaxes(1, 2). `forward`
// applies it (writing), otherwise it is undone (reading).
torch::Tensor permute_rows(const torch::Tensor& w, int64_t n_head, bool forward) {
  const int64_t rows = w.size(0);
  TORCH_CHECK(rows % (2 * n_head) == 0, "rows ", rows, " not divisible by 2 x ", n_head, " heads");
  std::vector<int64_t> shape = {n_head, forward ? 2 : rows / n_head / 2, forward ? rows / n_head / 2 : 2};
  for (int64_t d = 1; d < w.dim(); ++d) shape.push_back(w.size(d));
  return w.reshape(shape).transpose(1, 2).reshape(w.sizes()).contiguous();
}

std::string prefix_of(const io::GgufFile& file) { return file.get_string("general.architecture") + "."; }

// llama.cpp's converter stores Llama 3's RoPE scaling as per-frequency divisors
// (rope_freqs.weight) computed from factor, low/high_freq_factor and the original context:
// 1 for wavelengths below original/high, factor above original/low, and in between
// 1 / ((1 - s) / factor + s) with s = (original/wavelength - low) / (high - low).
// In float32 with llama.cpp's converter's torch operations (x / t is t.reciprocal() * x), so a
// file written from a Hugging Face folder carries the converter's values.
std::vector<double> llama3_divisors(double theta, int64_t dim, double factor, double low, double high,
                                    double original) {
  std::vector<double> out;
  const float two_pi = static_cast<float>(2 * M_PI);
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(i) / static_cast<float>(dim));
    const float wavelen = (1.0f / freq) * two_pi;
    if (wavelen < static_cast<float>(original / high)) {
      out.push_back(1.0);
    } else if (wavelen > static_cast<float>(original / low)) {
      out.push_back(static_cast<float>(factor));
    } else {
      const float smooth =
          ((1.0f / wavelen) * static_cast<float>(original) - static_cast<float>(low)) / static_cast<float>(high - low);
      out.push_back(1.0f / ((1.0f - smooth) / static_cast<float>(factor) + smooth));
    }
  }
  return out;
}

// The llama3 parameters that give `stored`. s is linear in 1/wavelength, s = a/wavelength + b with
// a = original/(high - low) and b = -low/(high - low); the divisors depend on a and b only, so
// low = 1 is taken and two divisors strictly between 1 and factor give the rest; one such divisor
// gives the original context for the usual low/high pairs; else the values real models use.
json llama3_rope(const io::GgufFile& file, const io::GgufTensorInfo& tensor, double theta, int64_t head_dim) {
  if (tensor.type != io::GgmlType::F32 || tensor.elements() != static_cast<uint64_t>(head_dim / 2)) {
    file.fail("tensor 'rope_freqs.weight' must be ", head_dim / 2, " F32 values (one per frequency)");
  }
  std::vector<float> stored(tensor.elements());
  std::memcpy(stored.data(), file.tensor_data(tensor), stored.size() * 4);
  const double factor = *std::max_element(stored.begin(), stored.end());
  std::vector<std::array<double, 3>> candidates;   // original, low, high
  std::vector<std::pair<double, double>> between;  // (1 / wavelength, s)
  for (size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] <= 1.0f + 1e-6f || stored[i] >= factor * (1 - 1e-6)) continue;
    const float freq =
        1.0f / std::pow(static_cast<float>(theta), static_cast<float>(2 * i) / static_cast<float>(head_dim));
    between.emplace_back(freq / (2 * M_PI), (1 / stored[i] - 1 / factor) / (1 - 1 / factor));
  }
  if (between.size() >= 2) {
    const auto& [x0, s0] = between.front();
    const auto& [x1, s1] = between.back();
    const double a = (s1 - s0) / (x1 - x0), b = s0 - a * x0;
    if (b < 0) candidates.push_back({std::round(-a / b), 1.0, (1 - b) / -b});
  }
  // One such divisor fixes the original context for given low and high factors.
  for (const auto& [x, smooth] : between) {
    for (const auto& [low, high] : {std::pair{1.0, 4.0}, {1.0, 2.0}, {1.0, 8.0}, {0.5, 4.0}, {2.0, 4.0}}) {
      candidates.push_back({std::round((smooth * (high - low) + low) / x), low, high});
    }
  }
  const double context = static_cast<double>(file.get_int(prefix_of(file) + "context_length"));
  for (double original : {8192.0, 4096.0, 2048.0, 16384.0, 32768.0, 65536.0, 131072.0, context}) {
    for (double low : {1.0, 0.5, 2.0}) {
      for (double high : {4.0, 2.0, 8.0}) candidates.push_back({original, low, high});
    }
  }
  for (const auto& [original, low, high] : candidates) {
    const auto want = llama3_divisors(theta, head_dim, factor, low, high, original);
    bool same = true;
    for (size_t i = 0; i < want.size() && same; ++i) same = std::fabs(want[i] - stored[i]) <= 1e-5 * want[i];
    if (same) {
      return {{"rope_type", "llama3"},    {"rope_theta", theta},
              {"factor", factor},         {"low_freq_factor", low},
              {"high_freq_factor", high}, {"original_max_position_embeddings", static_cast<int64_t>(original)}};
    }
  }
  file.fail("tensor 'rope_freqs.weight' holds RoPE divisors that no llama3 scaling gives");
}

}  // namespace

io::HfConfig gguf_config(const io::GgufFile& file) {
  const std::string arch_name = file.get_string("general.architecture");
  const Arch* arch = arch_by_gguf(arch_name);
  if (!arch) {
    file.fail("general.architecture '", arch_name, "' is not supported (supported: ", supported_archs(), ")");
  }
  const std::string p = prefix_of(file);
  json c;
  c["architectures"] = {arch->hf_class};
  c["model_type"] = arch->model_type;
  c["hidden_act"] = "silu";
  const int64_t hidden = file.get_int(p + "embedding_length");
  const int64_t heads = file.get_int(p + "attention.head_count");
  if (hidden <= 0 || heads <= 0) file.fail(p, "embedding_length and ", p, "attention.head_count must be positive");
  c["hidden_size"] = hidden;
  c["num_hidden_layers"] = file.get_int(p + "block_count");
  c["intermediate_size"] = file.get_int(p + "feed_forward_length");
  c["num_attention_heads"] = heads;
  c["num_key_value_heads"] = file.get_int(p + "attention.head_count_kv", heads);
  c["head_dim"] = file.get_int(p + "attention.key_length", hidden / heads);
  c["rms_norm_eps"] = file.get_float(p + "attention.layer_norm_rms_epsilon");
  c["max_position_embeddings"] = file.get_int(p + "context_length");

  // The vocabulary: the metadata's size, else the tokenizer's, else the embedding's rows.
  int64_t vocab = 0;
  if (file.has(p + "vocab_size")) {
    vocab = file.get_int(p + "vocab_size");
  } else if (const auto* embd = file.find_tensor("token_embd.weight")) {
    vocab = static_cast<int64_t>(embd->ne.back());
  } else if (file.has("tokenizer.ggml.tokens")) {
    vocab = static_cast<int64_t>(file.find("tokenizer.ggml.tokens")->array.size());
  }
  c["vocab_size"] = vocab;
  c["tie_word_embeddings"] = file.find_tensor("output.weight") == nullptr;

  json rope = {{"rope_theta", file.get_float(p + "rope.freq_base", 10000.0)}, {"rope_type", "default"}};
  const std::string scaling = file.get_string(p + "rope.scaling.type", "none");
  if (scaling == "linear") {
    rope["rope_type"] = "linear";
    rope["factor"] = file.get_float(p + "rope.scaling.factor");
  } else if (scaling != "none") {
    file.fail("metadata '", p, "rope.scaling.type' is '", scaling, "'; retain supports none and linear");
  }
  if (const auto* freqs = file.find_tensor("rope_freqs.weight")) {
    if (rope["rope_type"] != "default") file.fail("has both rope.scaling.type and rope_freqs.weight");
    rope = llama3_rope(file, *freqs, rope["rope_theta"].get<double>(), c["head_dim"].get<int64_t>());
  }
  if (file.has(p + "rope.dimension_count") &&
      file.get_int(p + "rope.dimension_count") != c["head_dim"].get<int64_t>()) {
    file.fail("metadata '", p, "rope.dimension_count' is ", file.get_int(p + "rope.dimension_count"),
              " but the head size is ", c["head_dim"].get<int64_t>(), "; partial rotary embeddings are not supported");
  }
  c["rope_parameters"] = rope;
  if (std::string(arch->model_type) == "qwen2") c["attention_bias"] = true;

  for (const auto& [key, field] :
       std::map<std::string, std::string>{{"tokenizer.ggml.bos_token_id", "bos_token_id"},
                                          {"tokenizer.ggml.eos_token_id", "eos_token_id"},
                                          {"tokenizer.ggml.padding_token_id", "pad_token_id"}}) {
    if (file.has(key)) c[field] = file.get_int(key);
  }
  c["dtype"] = "float32";
  return io::HfConfig::parse(c.dump(), file.path());
}

io::TensorMap gguf_tensors(const io::GgufFile& file, const io::HfConfig& config) {
  const Arch* arch = arch_by_gguf(file.get_string("general.architecture"));
  const int64_t heads = config.get_int("num_attention_heads");
  const int64_t kv_heads = config.get_int("num_key_value_heads");
  io::TensorMap out;
  for (const auto& t : file.tensors()) {
    if (t.name == "rope_freqs.weight") continue;  // read into the config's rope parameters
    const std::string name = hf_name(t.name);
    if (name.empty())
      file.fail("tensor '", t.name, "' has no counterpart in the ", config.model_type(), " architecture");
    if (!io::ggml_can_dequantize(t.type)) {
      file.fail("tensor '", t.name, "' is ", io::ggml_type_name(static_cast<uint32_t>(t.type)),
                ", which retain cannot dequantize (supported: ", io::ggml_dequantizable_names(), ")");
    }
    const auto& info = io::ggml_type_info(t.type);
    auto tensor = torch::empty(t.shape(), torch::kFloat);
    const int64_t row = static_cast<int64_t>(t.ne[0]);
    const int64_t rows = static_cast<int64_t>(t.elements()) / row;
    const uint64_t row_bytes = t.ne[0] / info.block_size * info.type_size;
    const uint8_t* src = file.tensor_data(t);
    float* dst = tensor.data_ptr<float>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) io::ggml_dequantize(t.type, src + r * row_bytes, dst + r * row, row);
    });
    if (arch->permute_qk && name.find("self_attn.q_proj.") != std::string::npos)
      tensor = permute_rows(tensor, heads, false);
    if (arch->permute_qk && name.find("self_attn.k_proj.") != std::string::npos)
      tensor = permute_rows(tensor, kv_heads, false);
    out.emplace(name, tensor);
  }
  return out;
}

std::shared_ptr<Model> gguf_model_load(const std::string& path, const LoadOptions& options) {
  const auto file = io::GgufFile::open(path);
  const auto config = gguf_config(*file);
  auto model = model_create(config, torch::TensorOptions().dtype(options.dtype).device(options.device));
  model_load_state(*model, gguf_tensors(*file, config), path);
  model->set_source(path);
  model->eval();
  return model;
}

namespace {

// llama.cpp's llama_ftype for a file whose matrices are `type`.
uint32_t file_type(io::GgmlType type) {
  switch (type) {
    case io::GgmlType::F32: return 0;
    case io::GgmlType::F16: return 1;
    case io::GgmlType::Q4_0: return 2;
    case io::GgmlType::Q4_1: return 3;
    case io::GgmlType::Q8_0: return 7;
    case io::GgmlType::Q5_0: return 8;
    case io::GgmlType::Q5_1: return 9;
    case io::GgmlType::BF16: return 32;
    default: return 0;
  }
}

// Metadata that describes the tensors, which the writer sets anew rather than carrying over.
bool describes_tensors(const std::string& key) {
  return key == "general.alignment" || key == "general.file_type" || key == "general.quantization_version" ||
         key.rfind("quantize.", 0) == 0;
}

}  // namespace

void gguf_model_save(Model& model, const std::string& path, const GgufSaveOptions& options) {
  const auto& config = model.config();
  const Arch* arch = arch_by_model_type(config.model_type());
  if (!arch) {
    fail("gguf", path, ": model_type '", config.model_type(),
         "' cannot be written as GGUF (supported: llama, mistral, qwen2, qwen3)");
  }
  if (!io::ggml_can_quantize(options.type)) {
    fail("gguf", path, ": type ", io::ggml_type_info(options.type).name,
         " cannot be written (supported: ", io::ggml_quantizable_names(), ")");
  }
  const std::string source = options.tokenizer_source.empty() ? model.source() : options.tokenizer_source;
  io::GgufWriter out;
  // The model's own GGUF hands over everything it knew (name, license, tokenizer, chat template,
  // ...); a GGUF named only for its tokenizer hands over tokenizer.* alone.
  const std::string source_gguf = source.empty() ? "" : io::gguf_model_file(source);
  const bool own_source =
      !source_gguf.empty() && !model.source().empty() && io::gguf_model_file(model.source()) == source_gguf;
  if (!source_gguf.empty()) {
    const auto src = io::GgufFile::open(source_gguf);
    for (const auto& [key, value] : src->metadata()) {
      if (describes_tensors(key) || (!own_source && key.rfind("tokenizer.", 0) != 0)) continue;
      out.set(key, value);
    }
  }
  const std::string a = arch->gguf;
  const std::string p = a + ".";
  const int64_t hidden = config.get_int("hidden_size"), heads = config.get_int("num_attention_heads");
  const int64_t kv_heads = config.get_int("num_key_value_heads", heads);
  const int64_t head_dim = config.get_int("head_dim", hidden / heads);
  out.set("general.architecture", io::gguf_string(a));
  if (!out.has("general.name")) {  // the folder (or file) the model came from, else the output's name
    const fs::path from = model.source().empty() ? fs::path(path) : fs::path(model.source()).lexically_normal();
    out.set("general.name", io::gguf_string((from.has_filename() ? from : from.parent_path()).stem().string()));
  }
  out.set(p + "context_length", io::gguf_u32(static_cast<uint32_t>(config.get_int("max_position_embeddings"))));
  out.set(p + "embedding_length", io::gguf_u32(static_cast<uint32_t>(hidden)));
  out.set(p + "block_count", io::gguf_u32(static_cast<uint32_t>(config.get_int("num_hidden_layers"))));
  out.set(p + "feed_forward_length", io::gguf_u32(static_cast<uint32_t>(config.get_int("intermediate_size"))));
  out.set(p + "attention.head_count", io::gguf_u32(static_cast<uint32_t>(heads)));
  out.set(p + "attention.head_count_kv", io::gguf_u32(static_cast<uint32_t>(kv_heads)));
  const auto rope = config.rope();
  out.set(p + "rope.freq_base", io::gguf_f32(static_cast<float>(rope.theta)));
  out.set(p + "rope.dimension_count", io::gguf_u32(static_cast<uint32_t>(head_dim)));
  if (rope.type == "linear") {
    out.set(p + "rope.scaling.type", io::gguf_string("linear"));
    out.set(p + "rope.scaling.factor", io::gguf_f32(static_cast<float>(rope.factor)));
  } else if (rope.type == "llama3") {
    // As llama.cpp's converter: the scaling as per-frequency divisors; a GGUF source's own values
    // are kept (its config was read from them).
    auto divisors = llama3_divisors(rope.theta, head_dim, rope.factor, rope.low_freq_factor, rope.high_freq_factor,
                                    static_cast<double>(rope.original_max_position_embeddings));
    if (!source_gguf.empty()) {
      const auto src = io::GgufFile::open(source_gguf);
      if (const auto* t = src->find_tensor("rope_freqs.weight"); t && t->elements() == divisors.size()) {
        std::vector<float> stored(divisors.size());
        std::memcpy(stored.data(), src->tensor_data(*t), stored.size() * 4);
        bool same = true;
        for (size_t i = 0; i < stored.size(); ++i)
          same = same && std::fabs(stored[i] - divisors[i]) <= 1e-5 * divisors[i];
        if (same) divisors.assign(stored.begin(), stored.end());
      }
    }
    out.add_tensor("rope_freqs.weight", {divisors.size()}, io::GgmlType::F32, [divisors](uint8_t* dst) {
      for (size_t i = 0; i < divisors.size(); ++i) {
        const float v = static_cast<float>(divisors[i]);
        std::memcpy(dst + 4 * i, &v, 4);
      }
    });
  } else if (rope.type != "default") {
    fail("gguf", path, ": rope_type '", rope.type, "' cannot be written as GGUF (supported: default, linear, llama3)");
  }
  out.set(p + "attention.layer_norm_rms_epsilon",
          io::gguf_f32(static_cast<float>(config.get_double("rms_norm_eps", 1e-6))));
  if (head_dim != hidden / heads) {
    out.set(p + "attention.key_length", io::gguf_u32(static_cast<uint32_t>(head_dim)));
    out.set(p + "attention.value_length", io::gguf_u32(static_cast<uint32_t>(head_dim)));
  }
  out.set(p + "vocab_size", io::gguf_u32(static_cast<uint32_t>(config.get_int("vocab_size"))));
  out.set("general.file_type", io::gguf_u32(file_type(options.type)));
  if (file_type(options.type) != 0 && file_type(options.type) != 1 && file_type(options.type) != 32) {
    out.set("general.quantization_version", io::gguf_u32(2));
  }
  if (source_gguf.empty()) {
    if (source.empty()) fail("gguf", path, ": the model has no tokenizer to write; name one (tokenizer.json or .gguf)");
    tok::gguf_tokenizer_metadata(source, out);
  }
  // Special ids the tokenizer did not name come from config.json (eos may be a list: the first).
  for (const auto& [field, key] : std::map<std::string, std::string>{{"bos_token_id", "tokenizer.ggml.bos_token_id"},
                                                                     {"eos_token_id", "tokenizer.ggml.eos_token_id"}}) {
    const auto ids = config.get_int_list(field);
    if (!out.has(key) && !ids.empty() && ids[0] >= 0) out.set(key, io::gguf_u32(static_cast<uint32_t>(ids[0])));
  }

  auto state = model_state(model);
  for (auto& [name, tensor] : state) {
    std::string g = gguf_name(name);
    if (g.empty()) fail("gguf", path, ": parameter '", name, "' has no GGUF name");
    torch::Tensor w = tensor.to(torch::kFloat).contiguous();
    if (arch->permute_qk && name.find("self_attn.q_proj.") != std::string::npos) w = permute_rows(w, heads, true);
    if (arch->permute_qk && name.find("self_attn.k_proj.") != std::string::npos) w = permute_rows(w, kv_heads, true);
    std::vector<uint64_t> ne;
    for (int64_t d = w.dim() - 1; d >= 0; --d) ne.push_back(static_cast<uint64_t>(w.size(d)));
    // As llama.cpp's converter: 1-D tensors stay F32; a matrix whose rows the blocks do not fit
    // falls back to F16.
    io::GgmlType type = options.type;
    if (w.dim() == 1)
      type = io::GgmlType::F32;
    else if (ne[0] % io::ggml_type_info(type).block_size != 0)
      type = io::GgmlType::F16;
    out.add_tensor(g, ne, type, [w, type](uint8_t* dst) {
      const auto& info = io::ggml_type_info(type);
      const int64_t row = w.size(-1);
      const int64_t rows = w.numel() / row;
      const uint64_t row_bytes = static_cast<uint64_t>(row) / info.block_size * info.type_size;
      const float* src = w.data_ptr<float>();
      at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) io::ggml_quantize(type, src + r * row, dst + r * row_bytes, row);
      });
    });
  }
  out.write(path);
}

}  // namespace retain::model
