// stream-config.h - the stream file (TOML) a user writes: [run] [model] [method] [train] [[task]] [eval].
// Every key has a default documented in the README ("Stream file"); unknown keys and wrong types are
// errors naming the key and the file. `--set key=value` overrides any scalar key after the file is read
// (keys are dotted paths: `train.lr=3e-4`, `method.lambda=0.5`, `task.2.max_train=100`).
// Relative paths in the file are resolved against the stream file's folder when the file is read,
// so the resolved config written to the run folder holds absolute paths.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/options.h"
#include "config/words.h"

namespace retain::config {

// ---- The settings that are a closed set of words (config/words.h reads and writes them).

enum class DType { Auto, Float32, BFloat16, Mixed };
enum class SaveFormat { Full, Gguf, Adapters, None };
enum class Schedule { Constant, Cosine };
enum class Head { Linear, PerTask, Prototype };
enum class TaskKind { Generation, TextClassification, ImageClassification, Text };
enum class EvalSplit { Test, Valid };

template <>
struct Words<DType> {
  static constexpr std::pair<DType, std::string_view> list[] = {
      {DType::Auto, "auto"}, {DType::Float32, "float32"}, {DType::BFloat16, "bfloat16"}, {DType::Mixed, "mixed"}};
};
template <>
struct Words<SaveFormat> {
  static constexpr std::pair<SaveFormat, std::string_view> list[] = {{SaveFormat::Full, "full"},
                                                                     {SaveFormat::Gguf, "gguf"},
                                                                     {SaveFormat::Adapters, "adapters"},
                                                                     {SaveFormat::None, "none"}};
};
template <>
struct Words<Schedule> {
  static constexpr std::pair<Schedule, std::string_view> list[] = {{Schedule::Constant, "constant"},
                                                                   {Schedule::Cosine, "cosine"}};
};
template <>
struct Words<Head> {
  static constexpr std::pair<Head, std::string_view> list[] = {
      {Head::Linear, "linear"}, {Head::PerTask, "per-task"}, {Head::Prototype, "prototype"}};
};
template <>
struct Words<TaskKind> {
  static constexpr std::pair<TaskKind, std::string_view> list[] = {
      {TaskKind::Generation, "generation"},
      {TaskKind::TextClassification, "text-classification"},
      {TaskKind::ImageClassification, "image-classification"},
      {TaskKind::Text, "text"}};
};
template <>
struct Words<EvalSplit> {
  static constexpr std::pair<EvalSplit, std::string_view> list[] = {{EvalSplit::Test, "test"},
                                                                    {EvalSplit::Valid, "valid"}};
};

struct RunConfig {
  std::string name;             // run folder name under `out` (default: the stream file's stem)
  std::string out = "runs";     // parent folder of run folders
  uint64_t seed = 0;            // model init, data order, replay sampling
  std::string device = "auto";  // cpu | cuda | cuda:N | auto
};

struct ModelConfig {
  std::string path;       // Hugging Face model folder (config.json + safetensors); or
  std::string init;       // a config.json to build a randomly initialised model from
  std::string tokenizer;  // tokenizer.json / folder / encoder.json (default: `path` when it has one)
  // auto: float32 on CPU, mixed on GPU. mixed: float32 weights and AdamW state, bf16 compute
  // (autocast). bfloat16: bf16 weights and state (half the memory; steps below |w|·2⁻⁹ round to nothing).
  DType dtype = DType::Auto;
  SaveFormat save =
      SaveFormat::Full;  // full (HF safetensors) | gguf | adapters (PEFT) | none: what the run writes at the end
  std::string gguf_type = "f32";  // save = "gguf": the matrices' type (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1)
};

struct MethodConfig {
  std::string name = "seqft";  // seqft | replay | joint | ... (the method registry lists them)
  Options options;             // every other key of [method], read and checked by the method itself
};

struct TrainConfig {
  int64_t epochs = 1;      // passes over each task's training set
  int64_t max_steps = 0;   // optimizer steps per task; 0 = epochs decide
  int64_t batch_size = 8;  // examples per micro-batch
  int64_t grad_accum = 1;  // micro-batches per optimizer step
  double lr = 1e-4;
  double weight_decay = 0.0;  // AdamW decoupled decay; never on biases, norms and embeddings' positions
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  Schedule schedule = Schedule::Constant;  // constant | cosine (per task, after warm-up)
  double warmup_ratio = 0.0;               // fraction of each task's steps spent warming up linearly from 0
  double clip_norm = 1.0;                  // global gradient norm clip; 0 = off
  int64_t max_length = 256;                // tokens per example (prompt + answer), longer ones are cut
  int64_t checkpoint_every = 0;            // optimizer steps between mid-task checkpoints; 0 = only after each task
  int64_t log_every = 10;                  // optimizer steps between log.jsonl lines / plain progress lines
  int64_t zero = 0;                        // data-parallel ranks: 1 = ZeRO-1 (AdamW moments split over the ranks)
  // Image classifiers. linear: one head over every class; per-task: each task trains only its own
  // classes' logits, prediction is over all classes seen; prototype: trained as per-task, predicts
  // the nearest class mean of the final [CLS] features (stored after each task, exemplar-free).
  Head head = Head::Linear;
};

// One task of the stream. `kind` decides which fields matter:
//   generation           JSONL {"input","output"}; prompt = template with {input}; scored on `output`
//   text-classification  JSONL {"text","label"}; the label is generated after the template with {text}
//   image-classification IDX images + labels (Fashion-MNIST layout), the examples whose label is in `classes`
//   text                 plain UTF-8 text (causal-LM loss, continual pre-training); scored by perplexity
struct TaskConfig {
  std::string name;                      // required, unique
  TaskKind kind = TaskKind::Generation;  // required: generation | text-classification | image-classification | text
  std::string train;                     // file (JSONL, text, or IDX images)
  std::string test;                      // file; required except for kind = text (then `valid` or none)
  std::string valid;                     // optional held-out split (learning-rate tuning, never the test set)
  std::string train_labels;              // image-classification: IDX labels of `train`
  std::string test_labels;               // image-classification: IDX labels of `test`
  std::vector<int64_t> classes;          // image-classification: the labels this task trains on
  std::string template_ = "{input}\n";   // key `template`: prompt; {input} or {text} is replaced
  std::string metric;                    // exact_match | accuracy | rouge_l | perplexity (default by kind)
  int64_t max_train = 0;                 // cap on training examples (first N after the seeded shuffle); 0 = all
  int64_t max_test = 0;                  // cap on test examples; 0 = all
  int64_t max_new_tokens = 0;            // generation length at evaluation; 0 = [eval].max_new_tokens
};

struct EvalConfig {
  int64_t batch_size = 16;
  int64_t max_new_tokens = 32;
  bool forward_transfer = true;        // also score the next task and the base model (for FWT)
  std::string general_text;            // held-out plain text: perplexity before and after the stream
  int64_t general_max_tokens = 20000;  // tokens of general_text scored
  std::string probe;                   // multiple-choice questions (data/probe.h): accuracy before and after
  EvalSplit split = EvalSplit::Test;   // valid: score every task on its held-out split (tuning)
};

struct StreamConfig {
  std::string source;  // the stream file this came from (for error messages)
  // The --set overrides applied, by the key they set ("train.lr", "task.2.max_new_tokens", the task
  // by its place in the stream) -> the option as given ("--set train.lr=3e-4").
  std::map<std::string, std::string> overrides;
  // Where a value was given, for an error about it: the --set that set `key`, else the stream file.
  const std::string& origin_of(const std::string& key) const {
    const auto it = overrides.find(key);
    return it == overrides.end() ? source : it->second;
  }
  RunConfig run;
  ModelConfig model;
  MethodConfig method;
  TrainConfig train;
  std::vector<TaskConfig> tasks;
  EvalConfig eval;
  // [retention]: the model's pretraining task (an image-classification task table, never trained).
  // Before the stream its class means under the starting model are stored from its training images;
  // its test images are scored against them (nearest class mean) before the stream and after it.
  std::optional<TaskConfig> retention;
};

// Reads and checks a stream file; `overrides` are "key=value" strings applied before checking.
StreamConfig stream_config_load(const std::string& path, const std::vector<std::string>& overrides = {});
// Parses stream text as if read from `source` (relative paths resolve against `base_dir`).
StreamConfig stream_config_parse(const std::string& text, const std::string& source, const std::string& base_dir,
                                 const std::vector<std::string>& overrides = {});
// The fully resolved configuration as TOML (every key, defaults filled in); parses back to the same.
std::string stream_config_to_toml(const StreamConfig& config);

}  // namespace retain::config
